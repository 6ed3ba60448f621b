"""Timing calls for the micro-benchmarks: one home for the warm-up and the clock."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np


def time_calls(call: Callable[[], object], calls: int, *, warmup: int, unit_s: float) -> np.ndarray:
    """Wall time of each of ``calls`` calls of ``call`` after ``warmup`` untimed ones, in ``unit_s`` units."""
    for _ in range(warmup):
        call()
    times = np.empty(calls)
    for i in range(calls):
        start = time.perf_counter_ns()
        call()
        times[i] = (time.perf_counter_ns() - start) / (unit_s * 1e9)
    return times
