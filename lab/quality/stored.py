"""Quality figures of the trials in a run folder: scored after each sweep session, re-scored later.

Everything the scorer needs is in the run folder (:mod:`lab.store`): each trial's samples
(``quality/<trial>.npz``), the reference images (``references/``) and the prompt (inside
the samples). So a run can be scored again with another embedding model, on another
machine, long after the pod is gone: ``lab quality RUN --model ...``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from lab.quality.embed import Embedder
from lab.quality.samples import QualitySamples
from lab.quality.score import score_trial
from lab.store import RunStore, StoreError

__all__ = ["RunScorer", "read_references", "rescore_run"]

log = logging.getLogger(__name__)


def read_references(paths: Sequence[Path]) -> list[NDArray[np.uint8]]:
    """Reference images as RGB arrays, transparent parts over white (as they are painted)."""
    pictures = []
    for path in paths:
        with Image.open(path) as image:
            rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        pictures.append(np.asarray(Image.alpha_composite(white, rgba).convert("RGB")))
    return pictures


class RunScorer:
    """Scores trials of one run with one embedding model and stores the results there.

    ``embedder`` is None when ``model`` could not be loaded: the model-free figures are
    still scored, and the embedding figures say why they are missing.
    """

    def __init__(self, store: RunStore, model: str, embedder: Embedder | None) -> None:
        self.store = store
        self.model = model
        self.embedder = embedder
        self.references = read_references(store.reference_paths())

    def row(self, trial_id: str, samples: QualitySamples) -> dict[str, Any]:
        """Score one trial, write its series, and return its ``quality.jsonl`` row.

        Samples a metric refuses (a ValueError: frames too small, ...) give a row with the
        error instead of figures, so one odd trial does not stop a sweep or a re-score.
        """
        row: dict[str, Any] = {"trial_id": trial_id, "model": self.model, "samples": len(samples)}
        try:
            figures, series = score_trial(samples, references=self.references, prompt=samples.prompt,
                                          embedder=self.embedder)
        except ValueError as exc:
            log.warning("quality of %s not scored: %s", trial_id, exc)
            return row | {"error": str(exc)}
        self.store.write_quality_series(trial_id, series)
        return row | {"figures": {f.name: {k: v for k, v in f.as_dict().items() if k != "name"} for f in figures}}

    def keep_and_score(self, trial_id: str, samples: QualitySamples) -> None:
        """A sweep's step after a session: store the samples, score them, append the row."""
        self.store.write_quality_samples(trial_id, samples.to_arrays())
        self.store.append_quality(self.row(trial_id, samples))


def rescore_run(store: RunStore, model: str, embedder: Embedder | None) -> list[dict[str, Any]]:
    """Score every trial with stored samples again and replace ``quality.jsonl`` atomically.

    Raises
    ------
    StoreError
        The run has no quality samples (recorded before trials kept them, or no trial
        measured anything).
    """
    trial_ids = store.quality_sample_ids()
    if not trial_ids:
        raise StoreError(
            f"Run {store.run_id} has no quality samples (no quality/<trial>.npz in {store.root}): it was "
            "recorded before trials kept them, or none of its trials measured. Run the sweep again to "
            "get quality figures.")
    scorer = RunScorer(store, model, embedder)
    rows = []
    for trial_id in trial_ids:
        try:
            samples = QualitySamples.from_arrays(store.read_quality_samples(trial_id))
        except (OSError, KeyError, ValueError) as exc:
            raise StoreError(f"The quality samples of trial {trial_id} in {store.root / 'quality'} cannot be "
                             f"read ({exc}); the file is damaged. Move it away to score the other trials.") from exc
        rows.append(scorer.row(trial_id, samples))
    store.replace_quality(rows)
    return rows

