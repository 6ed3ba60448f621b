"""Reports: plots of trials and runs, run comparison, and the HTML report.

- :mod:`.trial_plots` — plots of live :class:`~lab.measure.result.TrialResult` objects;
- :mod:`.plots` — plots of stored runs (fps with CIs, latency CDFs, warm-up timeline, VACE
  overhead, fps over time, contact sheet);
- :mod:`.compare` — run B against run A, with regressions flagged;
- :mod:`.html` and :mod:`.writer` — the self-contained HTML report and ``lab report``.

The research-log tables themselves live in :mod:`lab.logbook`.
"""
