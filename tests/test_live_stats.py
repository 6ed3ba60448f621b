"""Rolling live figures on a fake clock: fps, intervals, latency, stalls."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lab.live.stats import LiveStats

MS = 1_000_000
S = 1_000_000_000


class FakeClock:
    def __init__(self, now_ns: int = 0) -> None:
        self.now_ns = now_ns

    def __call__(self) -> int:
        return self.now_ns


def _feed(stats: LiveStats, clock: FakeClock, start_ns: int, count: int, every_ns: int,
          latency_ms: float | None = None) -> None:
    for k in range(count):
        clock.now_ns = start_ns + k * every_ns
        stats.add(clock.now_ns, latency_ms)


def test_no_frames_no_figures() -> None:
    figures = LiveStats(clock=FakeClock(5 * S)).figures()
    assert (figures.frames, figures.fps, figures.interval_p50_ms, figures.latency_p50_ms) == (0, 0.0, None, None)


def test_steady_stream_gives_its_rate_and_interval_from_the_second_frame_on() -> None:
    clock = FakeClock()
    stats = LiveStats(window_s=3.0, clock=clock)
    _feed(stats, clock, S, 3, 50 * MS)  # the first 0.1 s: not a full window yet
    assert stats.figures().fps == pytest.approx(20.0)
    _feed(stats, clock, S + 150 * MS, 200, 50 * MS)
    figures = stats.figures()
    assert figures.fps == pytest.approx(20.0, rel=0.02)
    assert figures.interval_p50_ms == pytest.approx(50.0) and figures.interval_max_ms == pytest.approx(50.0)
    assert figures.frames == 203 and figures.t_s == pytest.approx(10.1)


def test_a_stall_shows_as_falling_fps_and_then_zero() -> None:
    clock = FakeClock()
    stats = LiveStats(window_s=2.0, clock=clock)
    _feed(stats, clock, S, 100, 50 * MS)
    steady = stats.figures().fps
    clock.now_ns += 1 * S
    assert 0 < stats.figures().fps < 0.6 * steady
    clock.now_ns += 2 * S
    assert stats.figures().fps == 0.0


def test_chunked_output_shows_the_chunk_gap_as_the_max_interval() -> None:
    clock = FakeClock()
    stats = LiveStats(window_s=3.0, clock=clock)
    for chunk in range(10):  # 12 frames 20 ms apart, then 600 ms to the next chunk
        _feed(stats, clock, S + chunk * 820 * MS, 12, 20 * MS)
    figures = stats.figures()
    assert figures.interval_p50_ms == pytest.approx(20.0)
    assert figures.interval_max_ms == pytest.approx(600.0)
    assert figures.fps == pytest.approx(12 / 0.82, rel=0.15)


def test_latency_is_the_median_of_the_window_and_only_counts_known_values() -> None:
    clock = FakeClock()
    stats = LiveStats(window_s=1.0, clock=clock)
    _feed(stats, clock, S, 10, 50 * MS, latency_ms=500.0)  # leaves the window
    _feed(stats, clock, 2 * S, 10, 50 * MS, latency_ms=200.0)
    _feed(stats, clock, 2 * S + 500 * MS, 5, 50 * MS)  # no stamp read
    figures = stats.figures()
    assert figures.latency_p50_ms == pytest.approx(200.0) and figures.latency_n == 10


def test_sampled_history_is_bounded() -> None:
    clock = FakeClock()
    stats = LiveStats(history=5, clock=clock)
    for k in range(8):
        clock.now_ns = k * S
        stats.add(clock.now_ns)
        stats.sample()
    assert len(stats.history) == 5 and stats.history[-1].frames == 8


@given(st.lists(st.integers(min_value=1, max_value=400), min_size=2, max_size=200),
       st.integers(min_value=0, max_value=5000))
def test_figures_are_consistent_for_any_arrivals(gaps_ms: list[int], wait_ms: int) -> None:
    clock = FakeClock()
    stats = LiveStats(window_s=3.0, clock=clock)
    for gap in gaps_ms:
        clock.now_ns += gap * MS
        stats.add(clock.now_ns)
    clock.now_ns += wait_ms * MS
    figures = stats.figures()
    assert figures.fps >= 0 and figures.frames == len(gaps_ms)
    arrivals = np.cumsum(gaps_ms) * MS
    in_window = int(np.count_nonzero(arrivals >= max(clock.now_ns - 3 * S, arrivals[0])))
    if in_window >= 2:  # intervals exist only between two frames of the window
        assert 0 < figures.interval_p50_ms <= figures.interval_max_ms  # type: ignore[operator]
    else:
        assert figures.interval_p50_ms is None and figures.interval_max_ms is None
    # never more than the densest packing allows: one frame per smallest gap, plus the one
    # frame a window can hold at its far edge
    assert figures.fps <= 1000 / min(gaps_ms[1:]) + 1 / 3.0 + 1e-9
