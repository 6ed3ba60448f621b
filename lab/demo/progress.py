"""A terminal progress bar for a sweep that runs inside a notebook kernel (the demo's stages 3-5)."""

from __future__ import annotations

import json
import sys
import threading
from pathlib import Path
from types import TracebackType

from tqdm import tqdm

from lab.store import MANIFEST, TRIALS, list_runs, read_rows

__all__ = ["RunProgress"]


class RunProgress:
    """A terminal progress bar for a sweep that runs inside a notebook kernel.

    The kernel's own bar is a widget, which a terminal never sees. The sweep appends (and
    fsyncs) a row to its run's ``trials.jsonl`` as each trial ends, against a plan its
    manifest states, so counting rows from outside is the sweep's own progress.
    """

    def __init__(self, out: Path, description: str, interval_s: float = 0.5) -> None:
        self.out = out
        self.interval_s = interval_s
        self._before = set(list_runs(out))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="demo-progress", daemon=True)
        self._live = sys.stderr.isatty()  # redrawn each interval on a terminal; in a log, on a change only
        self._shown = (0, "starting the kernel, planning")
        self.bar = tqdm(total=None, desc=description, unit="trial", dynamic_ncols=True, postfix=self._shown[1],
                        bar_format="{desc}: {n_fmt}/{total_fmt} trials |{bar}| {elapsed}{postfix}")

    def __enter__(self) -> RunProgress:
        self.update()
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self._stop.set()
        self._thread.join()
        self.update()
        self.bar.close()

    def _watch(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.update()

    def update(self) -> None:
        """Read the new run folder (if there is one yet) and move the bar to its rows."""
        runs = [root for root in list_runs(self.out) if root not in self._before]
        if not runs:
            status = "starting the kernel, planning"
        else:
            plan = json.loads((runs[-1] / MANIFEST).read_text()).get("plan") or {}
            rows = read_rows(runs[-1] / TRIALS)
            self.bar.total = int(plan.get("trials", 0)) + int(plan.get("skipped", 0))
            self.bar.n = len(rows)
            if self.bar.n >= self.bar.total:
                status = "table and plot"
            elif rows:
                condition = "" if rows[-1]["condition"] == "default" else f" {rows[-1]['condition']}"
                status = f"done: {rows[-1]['pipeline_id']}{condition}"
            else:
                status = "first load and trial"
        if self._live or self._shown != (self.bar.n, status):
            self._shown = (self.bar.n, status)
            self.bar.set_postfix_str(status, refresh=False)
            self.bar.refresh()  # on a terminal this also moves the elapsed time: a long trial still shows life
