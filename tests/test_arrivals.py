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


def jittery_chunks(frames: int, period_s: float, seconds: float, rng: np.random.Generator) -> np.ndarray:
    """Chunks of ``frames`` back to back (2-15 ms apart) every ``period_s`` ± 6 % (compute noise)."""
    periods = period_s * rng.gamma(1 / 0.06**2, 0.06**2, int(seconds / period_s))
    starts = np.cumsum(periods)
    spacing = rng.uniform(0.002, 0.015, (starts.size, frames)).cumsum(axis=1)
    return (starts[:, None] + spacing).ravel()


@pytest.mark.parametrize("gaps", [pytest.param(0, id="no-stall"), pytest.param(1, id="1-stall"),
                                  pytest.param(3, id="3-stalls")])
def test_jittery_chunks_of_four_are_bursts_and_stalls_are_counted_exactly(gaps: int) -> None:
    rng = np.random.default_rng(7 + gaps)
    t = jittery_chunks(4, 0.22, 20, rng)  # about 18 fps, like an unpaced streamdiffusionv2
    for g in range(gaps):
        t[(g + 1) * 4 * 20:] += 1.0  # a 1 s hole every 20 chunks, always between chunks
    a = analyze_arrivals(t * NS)
    assert a.bursty and a.burst_frames == 4
    assert a.stalls == gaps, f"stalls {a.stall_gaps_s}, threshold {a.stall_threshold_s}"
    steady_span_s = t[-1] - t[0] - gaps * 1.0  # stalls count against throughput: add them back
    assert a.fps_out.value * (steady_span_s + gaps) / steady_span_s == pytest.approx(4 / 0.22, rel=0.05)


@pytest.mark.parametrize(("factor", "counted"), [pytest.param(2.5, 0, id="2.5x-typical"),
                                                 pytest.param(3.5, 1, id="3.5x-typical")])
def test_a_stall_is_a_gap_over_three_typical_gaps(factor: float, counted: int) -> None:
    t = smooth(20, 15)
    t[150:] += (factor - 1) / 20  # one interval becomes factor x 50 ms
    a = analyze_arrivals(t * NS)
    assert a.stalls == counted and a.stall_threshold_s == pytest.approx(0.15)


def client_read_chunks(seconds: float, rng: np.random.Generator) -> np.ndarray:
    """Chunks of 12 every 0.69 s ± 5 %, as a busy client reads them: some frames together
    (sub-millisecond apart), others 3-40 ms apart, so a burst spreads over 0.1-0.3 s."""
    starts = np.cumsum(0.69 * rng.gamma(400, 1 / 400, int(seconds / 0.69)))
    together = rng.random((starts.size, 11)) < 0.4
    gaps = np.where(together, rng.uniform(0.0001, 0.001, (starts.size, 11)), rng.uniform(0.003, 0.04, (starts.size, 11)))
    return (starts[:, None] + np.concatenate([np.zeros((starts.size, 1)), gaps.cumsum(axis=1)], axis=1)).ravel()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_bursts_read_late_by_a_busy_client_are_still_bursts(seed: int) -> None:
    # Seen on this machine with an unpaced longlive: on a log scale the sub-millisecond gaps
    # made the split fall inside the bursts, and the bursts' spread moved the rolling rate
    # enough to put warm-up after a stall, which then went uncounted.
    t = client_read_chunks(16, np.random.default_rng(seed))
    t[t > 6.0] += 2.0  # one 2 s stall, 6 s in
    a = analyze_arrivals(t * NS)
    assert a.bursty and a.burst_frames == 12
    assert a.stalls == 1 and a.stall_gaps_s[0] == pytest.approx(2.0, abs=0.8)
    assert a.warmup_s is not None and a.warmup_s < 1.5
