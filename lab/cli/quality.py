"""``lab quality``: score a stored run's quality samples again; and the embedding model the
quality figures are scored with, or None with the reason (the model-free figures go on)."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from lab.cli.exit_codes import EXIT_ERROR, EXIT_OK

if TYPE_CHECKING:
    from lab.quality.embed import Embedder

__all__ = ["add_quality_command", "embedder_or_none"]


def add_quality_command(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    quality = commands.add_parser(
        "quality",
        help="score a stored run's quality samples again (another embedding model, newer metrics)",
        description="Reads results/<run>/quality/<trial>.npz and references/, scores every trial, and "
                    "replaces quality.jsonl atomically (the same samples and model give the same rows). "
                    "Exit 0, or 2 on an error: unknown run, a run without samples, or a model that cannot "
                    "load (the model-free figures are then still scored and written).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    quality.add_argument("run", metavar="RUN", help="run id or run folder")
    quality.add_argument("--model", default="pixels",
                         help="pixels (no model) or a Hugging Face CLIP repo, e.g. openai/clip-vit-base-patch32 "
                              "(needs scope-lab[quality]; weights from the Hugging Face cache)")
    quality.add_argument("--results", "--out", dest="out", default="results", help="folder that holds the run folders")
    quality.set_defaults(handler=_quality)


def _quality(args: argparse.Namespace) -> int:
    from lab.quality.score import QUALITY_FIGURES
    from lab.quality.stored import rescore_run
    from lab.store import RunStore, load_runs

    runs = load_runs(args.out, [args.run])  # an unknown run is a clear StoreError
    (root,) = runs.roots.values()
    store = RunStore(root)
    embedder = embedder_or_none(args.model)
    rows = rescore_run(store, args.model, embedder)
    table = load_runs(root).figures
    shown = table[table["figure"].isin(QUALITY_FIGURES)]
    print(f"run {store.run_id}: {len(rows)} trials scored with {args.model} -> {root / 'quality.jsonl'}")
    if not shown.empty:
        wide = shown.pivot(index="trial_id", columns="figure", values="value")
        print(wide.reindex(columns=[f for f in QUALITY_FIGURES if f in wide.columns]).to_string(float_format="%.4g"))
    return EXIT_OK if embedder is not None else EXIT_ERROR


def embedder_or_none(model: str) -> Embedder | None:
    """The embedding model, or None with the reason on stderr (the model-free figures go on without it)."""
    from lab.errors import QualityModelError
    from lab.quality.embed import load_embedder

    try:
        return load_embedder(model)
    except QualityModelError as exc:
        print(f"error: {exc}\nThe model-free quality figures are scored without it.", file=sys.stderr)
        return None
