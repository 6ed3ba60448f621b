"""Arrival analysis on synthetic streams whose truth is known by construction."""

from __future__ import annotations

import numpy as np
import pytest

from lab.measure.arrivals import analyze_arrivals

NS = 1_000_000_000


def smooth(fps: float, seconds: float, start_s: float = 0.0) -> np.ndarray:
    return start_s + np.arange(int(fps * seconds)) / fps


def chunked(frames: int, period_s: float, seconds: float, spacing_s: float = 0.004, start_s: float = 0.0) -> np.ndarray:
    starts = start_s + np.arange(int(seconds / period_s)) * period_s
    return (starts[:, None] + np.arange(frames) * spacing_s).ravel()


def test_smooth_stream() -> None:
    a = analyze_arrivals(smooth(20, 15) * NS)
    assert a.fps_out.value == pytest.approx(20, rel=0.01)
    assert a.warmup_s == pytest.approx(0, abs=0.1)
    assert (a.stalls, a.bursty, a.burst_frames) == (0, False, 1.0)
    assert a.interval_p50.value == pytest.approx(50, abs=0.01) and a.interval_p50.unit == "ms"


def test_jittery_stream_is_steady_without_stalls() -> None:
    rng = np.random.default_rng(3)
    t = np.cumsum(rng.normal(1 / 15, 0.1 / 15, 300))
    a = analyze_arrivals(t * NS)
    assert a.stalls == 0 and not a.bursty
    assert a.warmup_s is not None and a.warmup_s < 0.5
    assert a.fps_out.value == pytest.approx(15, rel=0.03)


@pytest.mark.parametrize("warmup_s", [2.0, 4.0])
def test_slow_start_is_warmup(warmup_s: float) -> None:
    t = np.concatenate([smooth(5, warmup_s), smooth(20, 12, start_s=warmup_s)])
    a = analyze_arrivals(t * NS)
    assert a.warmup_s == pytest.approx(warmup_s, abs=0.5)
    assert a.fps_out.value == pytest.approx(20, rel=0.02)


def test_chunked_delivery_is_bursts_not_stalls() -> None:
    a = analyze_arrivals(chunked(12, 0.6, 15) * NS)
    assert a.bursty and a.burst_frames == 12
    assert a.stalls == 0
    assert a.fps_out.value == pytest.approx(20, rel=0.03)


def test_chunked_warmup() -> None:
    t = np.concatenate([chunked(12, 2.4, 4.8), chunked(12, 0.6, 12, start_s=4.8)])
    a = analyze_arrivals(t * NS)
    assert a.bursty and a.warmup_s == pytest.approx(4.8, abs=0.6)


@pytest.mark.parametrize("gaps", [1, 3])
def test_injected_stalls_are_counted_exactly(gaps: int) -> None:
    t = smooth(20, 20)
    for g in range(gaps):
        t[(g + 1) * 90:] += 1.0  # a 1 s hole every 4.5 s
    a = analyze_arrivals(t * NS)
    assert a.stalls == gaps
    assert all(g == pytest.approx(1.05, abs=0.01) for g in a.stall_gaps_s)


def test_stall_in_chunked_stream() -> None:
    t = chunked(12, 0.6, 15)
    t[12 * 10:] += 3.0
    a = analyze_arrivals(t * NS)
    assert a.bursty and a.stalls == 1


def test_too_few_frames() -> None:
    a = analyze_arrivals([0, NS])
    assert a.fps_out.value is None and a.fps_out.warnings
    assert a.warmup_s is None and a.stalls == 0


def test_figures_carry_units_and_n() -> None:
    figures = analyze_arrivals(smooth(10, 10) * NS).figures()
    assert {f.name for f in figures} >= {"warmup_s", "fps_out", "interval_p95", "stalls"}
    assert all(f.unit and f.n > 0 for f in figures)
