"""The truth side of the accuracy tests, on hand-built records with answers worked out by hand:
rates of what the simulator sent (tests.truth.sent_rates) and which frame answers a stimulus
(tests.truth.accuracy)."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.truth.accuracy import (
    SKIP_START_FRAMES,
    control_truth_index,
    latency_minus_internal_ms,
    sent_frame_arrivals,
    step_truth_index,
)
from tests.truth.sent_rates import SentUnits, stall_gaps_s, steady_fps, warmup_end_s

MS = 1_000_000
ORIGIN_NS = 5_000_000_000  # the simulator's clock does not start at 0


def sent(ms: list[int], chunks: list[int] | None = None, repeats_after_ms: list[int] = ()) -> pd.DataFrame:
    """A truth ``frames`` table: new frames sent at ``ms``, then repeats (a paused stream)."""
    rows = [{"sent_ns": ORIGIN_NS + t * MS, "kind": "frame", "chunk_index": c}
            for t, c in zip(ms, chunks or range(len(ms)), strict=True)]
    rows += [{"sent_ns": ORIGIN_NS + t * MS, "kind": "repeat", "chunk_index": -1} for t in repeats_after_ms]
    return pd.DataFrame(rows)


def test_paced_stream_after_slow_first_frames() -> None:
    # 2 fps for the first five frames (0-2 s), then 20 fps to 10 s, then one repeat (left out).
    frames = sent([0, 500, 1000, 1500, *range(2000, 10_001, 50)], repeats_after_ms=[10_500])
    units = SentUnits.from_truth(frames, chunked=False)
    assert units.frames.sum() == 165
    # The window from 2.0 s runs to the first frame 1 s later: 20 frames, 20 fps, and so do all
    # later ones (the steady rate). The one from 1.5 s holds 1.5, 2.0 and 2.05-2.45: 11 fps.
    assert warmup_end_s(units) == pytest.approx(2.0)
    # from 2.0 s: 161 frames, 160 intervals of 50 ms in 8 s
    assert steady_fps(units, 2.0) == pytest.approx(20.0)
    # gaps: four of 0.5 s, 160 of 0.05 s; stalls are gaps over 3 x 0.05 s, after warm-up only
    assert stall_gaps_s(units, 2.0) == []
    assert stall_gaps_s(units, 0.0) == pytest.approx([0.5] * 4)


def test_a_wider_band_ends_warm_up_sooner_on_a_rate_near_its_edge() -> None:
    # 2 fps to 2 s, 58 ms frames (17.24 fps) to 4 s, then 20 fps to 10 s: steady 20 fps.
    frames = sent([0, 500, 1000, 1500, *range(2000, 4000, 58), *range(4000, 10_001, 50)])
    units = SentUnits.from_truth(frames, chunked=False)
    # ±15 % (17-23 fps) holds 17.24 fps: steady from 2.0 s.
    assert warmup_end_s(units, tolerance=0.15) == pytest.approx(2.0)
    # ±10 % (18-22 fps): the window from 3.044 s runs to 4.05 s and holds 3.044-3.972 s (17
    # frames) and 4.0 s: 18 / 1.006 = 17.89 fps, out. The one from 3.102 s runs to 4.15 s: 16
    # frames to 3.972 s, 4.0, 4.05, 4.1: 19 / 1.048 = 18.13 fps, in, and so are all later ones.
    assert warmup_end_s(units) == pytest.approx(3.102)


def test_a_hole_in_a_steady_stream_is_one_stall() -> None:
    # 10 fps from 0 to 10 s without the frames between 5.0 and 6.5 s: one gap of 1.5 s
    frames = sent([t for t in range(0, 10_001, 100) if not 5000 < t < 6500])
    units = SentUnits.from_truth(frames, chunked=False)
    assert warmup_end_s(units) == 0.0  # 0-4 s already holds the steady 10 fps for 2 s
    assert stall_gaps_s(units, 0.0) == pytest.approx([1.5])


def chunk_times_ms(starts_ms: list[int]) -> tuple[list[int], list[int]]:
    """Chunks of 12 frames sent back to back (4 ms apart) from each start: times and chunk indices."""
    ms = [start + 4 * i for start in starts_ms for i in range(12)]
    return ms, [k for k in range(len(starts_ms)) for _ in range(12)]


# A warm-up chunk 1.75 s long, then one every 0.7 s: chunk k >= 1 starts at 1.75 + 0.7 (k - 1) s.
STARTS_MS = [0, *(1750 + 700 * k for k in range(15))]


def test_chunked_stream_warm_up_rate_and_bursts() -> None:
    units = SentUnits.from_truth(sent(*chunk_times_ms(STARTS_MS)), chunked=True)
    assert units.frames.tolist() == [12] * 16
    # Windows run from chunk to chunk, at least 1 s: from chunk 0 to chunk 1, 12 frames in 1.75 s
    # (6.9 fps); from chunk 1 on, two chunks in 1.4 s: 24 / 1.4 = 17.14 fps, the steady rate.
    assert warmup_end_s(units) == pytest.approx(1.75)
    # chunks 1-15: the frames of 14 chunks over 14 x 0.7 s
    assert steady_fps(units, 1.75) == pytest.approx(12 / 0.7)
    # the gaps between chunks (0.7 s - 11 x 4 ms = 0.656 s) are the rhythm, not stalls
    assert stall_gaps_s(units, 1.75) == []
    # as single frames the same times have no steady rate: a window's rate depends on where in
    # a chunk it starts (24 frames in 1.4 s from a chunk's first frame, 13 in 1.356 s from its last)
    assert warmup_end_s(SentUnits.from_truth(sent(*chunk_times_ms(STARTS_MS)), chunked=False)) is None


def test_chunked_stream_with_a_stall() -> None:
    # chunks 8 on, 2 s late: a gap of 2.656 s, over 3 x 0.656 s
    late = [start + (2000 if k >= 8 else 0) for k, start in enumerate(STARTS_MS)]
    units = SentUnits.from_truth(sent(*chunk_times_ms(late)), chunked=True)
    # chunks 1-7 (1.75-5.95 s) are steady: windows ending 3.15 to 5.95 s span 2.8 s
    assert warmup_end_s(units) == pytest.approx(1.75)
    assert stall_gaps_s(units, 1.75) == pytest.approx([2.656])


def test_too_short_to_hold_a_steady_rate() -> None:
    units = SentUnits.from_truth(sent(list(range(0, 1501, 50))), chunked=False)  # 1.5 s at 20 fps
    assert warmup_end_s(units) is None


def test_sent_frames_found_by_rtp_timestamp_from_the_client_s_own_origin() -> None:
    # The simulator sent four frames; the client missed the first, counts its timestamps from the
    # first it got (4000 -> 0), and its decoder rounded one by a tick. Origin 4000 matches all
    # three; origin 1000 only two (0 and 3000: the last spacing is 3300 ticks, not 3000; on a
    # perfectly regular grid a one-frame shift would match as well, and the earliest is taken).
    truth = pd.DataFrame({"pts": [1000, 4000, 7000, 10_300]})
    client = pd.DataFrame({"pts": [0, 3001, 6300], "complete_ns": [10, 20, 30]})
    arrivals = sent_frame_arrivals(client, truth)
    assert arrivals.isna().tolist() == [True, False, False, False] and arrivals.dropna().tolist() == [10, 20, 30]
    with pytest.raises(ValueError, match="match a frame the simulator sent"):
        sent_frame_arrivals(pd.DataFrame({"pts": [0, 1500, 4500], "complete_ns": [1, 2, 3]}), truth)


def control_truth(kinds: list[str]) -> dict[str, dict[str, list[object]]]:
    """Frames of chunks 2, 2, 3, 3, ...; a channel message at 100 ns, first applied by chunk 3."""
    return {
        "messages": {"received_ns": [50, 100], "source": ["rest", "channel"], "keys": [["prompts"], ["prompts"]]},
        "chunks": {"chunk_index": [2, 3, 4], "update_received_ns": [None, 100, None]},
        "frames": {"kind": kinds, "chunk_index": [2, 2, 3, 3, 4, 4][:len(kinds)],
                   "sent_ns": [90, 95, 150, 160, 170, 180][:len(kinds)]},
    }


def test_the_frame_that_answers_a_control() -> None:
    truth = control_truth(["frame"] * 6)
    assert control_truth_index(truth, 80) == 2  # the first frame of chunk 3
    assert control_truth_index(truth, 101) is None  # no channel message after it
    # paused: the last new frame before the first repeat sent after the message arrived
    assert control_truth_index(control_truth(["frame", "frame", "frame", "repeat", "repeat"]), 80, "freeze") == 2
    assert control_truth_index(truth, 80, "freeze") is None  # never repeated


def test_the_frame_that_answers_a_scene_switch() -> None:
    frames = pd.DataFrame({"kind": ["frame", "frame", "repeat", "frame", "frame"],
                           "input_stamp_id": [5, None, 7, 7, 9]})
    assert step_truth_index(frames, 6) == 3  # made from input 7; the repeat is not new
    assert step_truth_index(frames, 10) is None


def test_latency_minus_internal_delay_per_input_frame() -> None:
    # client latency 130 ms for ids 0-9, internal delay 100 ms for each: 30 ms of transport,
    # after the first frames (connection start-up), each id once
    n = SKIP_START_FRAMES + 3
    joined = pd.DataFrame({"stamp_id": pd.array([*range(n), n - 1], dtype="Int64"),
                           "latency_ms": [130.0] * n + [400.0]})
    truth = pd.DataFrame({"input_stamp_id": [*range(n), None], "internal_delay_ns": [100 * MS] * n + [None]})
    assert latency_minus_internal_ms(joined, truth).tolist() == pytest.approx([30.0] * 3)
