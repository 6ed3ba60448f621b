"""The results store: one folder per run, written so that a crash loses at most one trial.

Layout of ``results/<run-id>/`` (the run id is UTC start time + a short random hash, so
ids sort by time and two runs never collide)::

    manifest.json        what was measured, where, with what: target, server health and
                         version, hardware, schema snapshot, the spec, lab version, git
                         commit, the software measured with (Python, aiortc, aioice, av,
                         numpy versions), simulated or real, start/end, status. Rewritten
                         atomically.
    trials.jsonl         one JSON object per finished trial (ok, error or skipped),
                         appended, flushed and fsync'ed as each trial ends. Never rewritten.
    frames/<trial>.parquet   the per-frame table of a trial (arrival times, intervals, ids)
    samples/<trial>-<k>.jpg  a few output frames of a trial
    recordings/<trial>.mp4   the server's own recording of a session (``record_server``),
                         kept under the id of the session's last trial
    contact_sheet.jpg    the samples of the run on one page
    references/<name>    the reference images the quality figures compare with (copied once)
    quality/<trial>.npz  a trial's quality samples (frame pairs, inputs, per-frame luma
                         change, prompt; :class:`lab.quality.samples.QualitySamples`), written
                         once: what ``lab quality`` re-scores from
    quality/<trial>.parquet  its scored series (one row per sampled pair)
    quality.jsonl        one row per scored trial (trial_id, model, figures); appended during
                         a sweep, replaced atomically by a re-score. ``load_runs`` joins its
                         figures to the trials'.

Rules: a run folder is never overwritten (creating an existing id fails); resuming
appends to it. A process killed mid-write can leave a partial last line in
``trials.jsonl``; readers ignore it and :meth:`RunStore.resume` cuts it off before
appending. Anything that looks like a secret (tokens, credentials, auth headers) is
replaced by ``"<redacted>"`` before it is written.

The parts: where things are in a results folder (:mod:`.layout`), writing that survives a
crash (:mod:`.durable`), one run's folder (:mod:`.run`), what a manifest records
(:mod:`.manifest`) and runs read back as tables (:mod:`.runs`).
"""

from __future__ import annotations

from lab.store.durable import read_rows
from lab.store.layout import MANIFEST, RESULTS_DIR, TRIALS, StoreError, list_runs, new_run_id
from lab.store.manifest import git_commit, read_manifest
from lab.store.run import RunStore
from lab.store.runs import Runs, load_runs

__all__ = ["RunStore", "Runs", "StoreError", "load_runs", "list_runs", "read_rows", "read_manifest", "new_run_id",
           "git_commit", "RESULTS_DIR", "MANIFEST", "TRIALS"]
