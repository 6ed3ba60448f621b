"""Frame flow as Scope's: bounded queues, input sampling that skips, no backlog.

Scope 0.2.4 keeps at most 30 input frames (dropping new ones when full), takes each chunk's
frames sampled uniformly across the queue and consumes the ones between (a pipeline slower
than its input skips input frames), and bounds its output queue at twice a batch (dropping
new frames when full). So generative video-to-video latency stays flat over a session: an
input chunk's wait, plus its compute, plus at most the output queue, plus pacing. The unit
tests pin the queue rules; the session test streams longlive for a minute with an input
faster than the pipeline and checks the simulator's own records and the client's figures:

- the truth's median internal delay over the first 10 s of steady output and over the last
  10 s differ by less than one chunk interval (the steady chunk period in the truth);
- no backlog: whenever a chunk's frames join the output queue, the frames made but not yet
  sent number at most the queue's capacity, max(8, 2 x batch) (plus the one frame that may be
  between the pacer's pop and its send record). This counts frames from the truth's chunk
  and frame tables, so a busy machine that delays the pacer cannot fail it (the queue then
  drops new frames, as Scope's does), while an unbounded queue does;
- each frame's internal delay is the sum of its parts taken from three separate tables of
  the truth (input received, chunk start and end, frame sent), within 1 ms;
- the input ledger accounts for every frame received, and the client's latency minus that
  sum is the loopback transport: a median from 0 to 100 ms;
- the client reports input frames it never saw as ``inputs_unseen``, never as a loss, and
  every input the simulator skipped or dropped (between the first and last id read) is
  among them.
"""

from __future__ import annotations

import asyncio

import httpx
import numpy as np
import pandas as pd
import pytest

from lab.client import ScopeClient
from lab.measure.run import run_trial
from lab.measure.spec import TrialSpec
from lab.sim.media.quality import NOTHING_INJECTED
from lab.sim.media.queues import OUTPUT_QUEUE_FRAMES, InputFrame, InputQueue, OutputBuffer, OutputFrame, sample_indices
from tests.test_accuracy import last_truth
from tests.conftest import SimControl
from tests.truth.accuracy import latency_minus_internal_ms

SESSION_S = 60.0
INPUT_FPS = 20.0  # longlive at 512x512 makes about 13 fps: the input outruns it
WINDOW_NS = 10_000_000_000
TRANSPORT_MAX_MS = 100.0


def _input(seq: int) -> InputFrame:
    return InputFrame(seq=seq, frame=None, received_ns=seq, stamp_id=seq)  # type: ignore[arg-type]


def _output(index: int) -> OutputFrame:
    return OutputFrame(frame=None, ready_ns=index, chunk_index=0, pts=None, source=None,  # type: ignore[arg-type]
                       injected=NOTHING_INJECTED)


def test_sampling_takes_the_first_frame_and_leaves_less_than_a_step() -> None:
    assert sample_indices(30, 12) == [0, 2, 5, 7, 10, 12, 15, 17, 20, 22, 25, 27]
    assert sample_indices(12, 12) == list(range(12))
    for queued in range(12, 31):
        picks = sample_indices(queued, 12)
        assert picks[0] == 0 and len(set(picks)) == 12
        assert queued - 1 - picks[-1] < queued / 12  # what stays is less than one step
    with pytest.raises(ValueError, match="cannot sample 5 of 4"):
        sample_indices(4, 5)


async def test_input_queue_drops_new_frames_when_full_and_records_each_fate() -> None:
    queue = InputQueue(capacity=30)
    kept = [queue.put(_input(seq)) for seq in range(33)]
    assert kept == [True] * 30 + [False] * 3  # the new frames are dropped, not the old ones
    chosen = await queue.take(12, chunk_index=7)
    assert [frame.seq for frame in chosen] == [0, 2, 5, 7, 10, 12, 15, 17, 20, 22, 25, 27]
    assert len(queue) == 2 and queue.received == 33  # frames 28 and 29 wait for the next chunk
    ledger = pd.DataFrame(queue.ledger.to_json())
    fates = ledger.set_index("input_seq")["fate"]
    assert list(fates[[30, 31, 32]]) == ["dropped"] * 3
    assert (fates[[frame.seq for frame in chosen]] == "sampled").all()
    assert sorted(fates.index[fates == "skipped"]) == [1, 3, 4, 6, 8, 9, 11, 13, 14, 16, 18, 19, 21, 23, 24, 26]
    assert set(ledger.loc[ledger["fate"] != "dropped", "chunk_index"]) == {7}


async def test_input_queue_waits_for_a_whole_chunk() -> None:
    queue = InputQueue()
    for seq in range(3):
        queue.put(_input(seq))
    waiting = asyncio.create_task(queue.take(4, chunk_index=0))
    await asyncio.sleep(0.01)
    assert not waiting.done()
    queue.put(_input(3))
    assert [frame.seq for frame in await asyncio.wait_for(waiting, 1)] == [0, 1, 2, 3]


def test_output_queue_grows_for_large_batches_and_drops_new_frames() -> None:
    buffer = OutputBuffer()
    assert buffer.capacity == 8
    assert buffer.extend((_output(i) for i in range(4)), 1000) == 0 and buffer.capacity == 8  # 4 is not over half
    assert buffer.extend((_output(i) for i in range(12)), 1000) == 0 and buffer.capacity == 24  # grown to 2 x 12
    assert buffer.extend((_output(100 + i) for i in range(12)), 1000) == 4  # 16 queued: 8 fit, the newest 4 go
    assert len(buffer) == 24
    assert [buffer.pop().ready_ns for _ in range(24)][-1] == 107  # type: ignore[union-attr]


def test_frames_still_in_their_pipeline_delay_take_no_room() -> None:
    buffer = OutputBuffer()
    for start in (2000, 2100, 3000):  # ready after now (1000): still in flight, more than the 8 it holds
        assert buffer.extend((_output(start + i) for i in range(4)), 1000) == 0
    assert len(buffer) == 12 and buffer.capacity == 8
    assert buffer.extend((_output(4000 + i) for i in range(4)), 2500) == 4  # 8 ready by 2500: full


@pytest.mark.slow
@pytest.mark.timeout(240)
async def test_generative_latency_stays_flat_and_is_the_sum_of_its_parts(client: ScopeClient,
                                                                        sim: SimControl) -> None:
    result = await run_trial(client, TrialSpec("longlive", fps=INPUT_FPS, duration_s=SESSION_S,
                                               download_missing=True))
    assert result.error is None, result.error
    truth = last_truth(sim)
    frames = pd.DataFrame(truth["frames"])
    chunks = pd.DataFrame(truth["chunks"]).set_index("chunk_index")
    inputs = pd.DataFrame(truth["inputs"])
    made = frames[frames["kind"] == "frame"].join(chunks[["started_ns", "done_ns", "warmup"]], on="chunk_index")
    steady = made[~made["warmup"].astype(bool)]
    steady_chunks = chunks[~chunks["warmup"].astype(bool)]
    chunk_interval_s = float(np.median(np.diff(steady_chunks["done_ns"]))) / 1e9

    # Flat: the first and last 10 s of steady output.
    first = steady[steady["sent_ns"] < steady["sent_ns"].iloc[0] + WINDOW_NS]
    last = steady[steady["sent_ns"] > steady["sent_ns"].iloc[-1] - WINDOW_NS]
    first_ms, last_ms = first["internal_delay_ns"].median() / 1e6, last["internal_delay_ns"].median() / 1e6
    assert abs(last_ms - first_ms) < chunk_interval_s * 1e3, (
        f"internal delay moved from {first_ms:.0f} to {last_ms:.0f} ms over the session "
        f"(one chunk interval is {chunk_interval_s * 1e3:.0f} ms)")

    # No backlog: when a chunk's frames join the queue, made-but-unsent frames fit its capacity.
    kept = (chunks["frames"] - chunks["outputs_dropped"]).cumsum()
    sent = np.sort(made["sent_ns"].to_numpy())
    waiting = kept - np.searchsorted(sent, chunks["done_ns"].to_numpy(), side="left")
    capacity = max(OUTPUT_QUEUE_FRAMES, 2 * int(chunks["frames"].max()))
    assert waiting.max() <= capacity + 1, (
        f"{waiting.max()} frames waited to be sent after chunk {waiting.idxmax()} (the queue holds {capacity})")

    # The internal delay is input wait + compute + output queue and pacing, from separate tables.
    received = inputs.set_index("input_seq")["received_ns"]
    with_input = made.dropna(subset=["input_seq"])
    parts_ns = ((with_input["started_ns"] - with_input["input_seq"].astype(int).map(received))
                + (with_input["done_ns"] - with_input["started_ns"])
                + (with_input["sent_ns"] - with_input["done_ns"]))
    assert (parts_ns - with_input["internal_delay_ns"]).abs().max() < 1_000_000

    # The pipeline was slower than its input: it skipped input frames, and every frame it got
    # has one fate (the rest still waited in the queue at the end, at most 30).
    fates = inputs["fate"].value_counts()
    assert fates.get("skipped", 0) > 0, f"no input frame was skipped: {fates.to_dict()}"
    # (the chunk in progress when the session closed took its inputs but was never recorded)
    assert fates.get("sampled", 0) - 12 * len(chunks) in (0, 12)
    frames_in = httpx.get(f"{sim.url}/sim/sessions", timeout=10).raise_for_status().json()[-1]["frames_in"]
    assert 0 <= frames_in - len(inputs) <= 30

    # The client: latency minus the truth's sum is the transport; skipped inputs are unseen.
    transport_ms = latency_minus_internal_ms(result.frames, frames)
    assert len(transport_ms) > 20
    assert 0 <= transport_ms.median() < TRANSPORT_MAX_MS, transport_ms.describe()
    names = {figure.name for figure in result.figures}
    assert "inputs_unseen" in names and "frames_lost" not in names
    read = result.frames["stamp_id"].dropna().astype(int)
    seen = set(read)
    in_range = inputs[(inputs["stamp_id"] >= read.min()) & (inputs["stamp_id"] <= read.max())]
    not_used = set(in_range.loc[in_range["fate"] != "sampled", "stamp_id"].astype(int))
    assert not_used and not (not_used & seen)
    unseen = set(range(int(read.min()), int(read.max()) + 1)) - seen
    assert not_used <= unseen
    assert result.figure("inputs_unseen").value == len(unseen)
