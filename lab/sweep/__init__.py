"""Sweeps: a spec (:mod:`.spec`) becomes a plan with few loads (:mod:`.planner`), run
resumably into the results store (:mod:`.runner`), summarised per condition (:mod:`.summary`)."""

from __future__ import annotations

from lab.sweep.planner import Plan, plan_sweep
from lab.sweep.runner import SweepOutcome, run_sweep
from lab.sweep.spec import SweepSpec, load_spec, overrides_from_strings
from lab.sweep.summary import sweep_table

__all__ = ["SweepSpec", "load_spec", "overrides_from_strings", "Plan", "plan_sweep", "SweepOutcome", "run_sweep",
           "sweep_table"]
