"""Ground truth of a session: every frame sent, input frame taken, chunk computed, message received.

All times are ``time.perf_counter_ns`` values. On Linux that is CLOCK_MONOTONIC, shared by
every process of the machine, so a client's own frame times can be compared with these.

Frames (one row per frame handed to aiortc):
``out_seq``, ``sent_ns`` (when the output track's ``recv()`` returned it), ``pts``, ``kind``
(``"frame"``, or ``"repeat"`` while paused), ``chunk_index``, and for frames made from an
input frame ``input_seq`` (its index in the simulator's receive order),
``input_received_ns`` (when the input track's ``recv()`` returned it),
``internal_delay_ns`` (``sent_ns - input_received_ns``) and ``input_stamp_id`` (the frame
id stamped in its pixels, when :func:`lab.stamp.decode_stamp` reads one);
``wire_ns``: when aiortc next asked for a frame, which it does only once it has encoded
this one and sent all its RTP packets (``None`` for the last frame). The first frame's
``wire_ns - sent_ns`` includes starting the encoder and its key frame.
What was painted into it (see :mod:`lab.sim.media.quality`): ``ref_share``, the share of the
frame the VACE reference picture takes (0 without one), and ``flicker_offset``, the
brightness offset added to every pixel, in levels of 0-255 (0 for passthrough and gray).
A ``"repeat"`` frame repeats both from the frame it repeats.

Inputs (one row per received input frame whose fate is decided; the input queue's ledger,
see :mod:`lab.sim.media.queues`): ``input_seq``, ``received_ns``, ``stamp_id``, ``fate``
(``"sampled"`` into a chunk, ``"skipped"`` by the chunk's sampling, or ``"dropped"``
because the queue was full) and ``chunk_index`` (``None`` when dropped).

Chunks: ``chunk_index``, ``started_ns``, ``done_ns``, ``frames`` (output frames),
``outputs_dropped`` (those of them the full output queue dropped), ``compute_s`` (emulated compute time; 0 for passthrough and gray), ``warmup`` (a warm-up
chunk), ``prompt`` (the prompts in force), ``update_received_ns`` (receive time of the
parameter update first applied in this chunk, if any), ``ref_images`` (the paths of the
reference images painted into its frames, ``[]`` when none) and ``ref_since_ns`` (start of
the chunk that applied them: the zero of the identity drift's clock; ``None`` when none).

Stalls (one row per ``stall`` fault acted out): ``started_ns`` and ``ended_ns``, the span in
which the output track sent nothing on purpose, and ``frames_dropped``, the processed frames
that went stale meanwhile and were dropped. The gap a client sees spans the stall and lasts
until the next chunk is done, so it is longer than the stall by up to a chunk period.

Messages: ``received_ns``, ``source`` (``"channel"`` for the data channel, ``"rest"`` for
``POST /api/v1/session/parameters``) and ``keys``.
"""

from __future__ import annotations

from typing import Any

from lab.sim.media.columns import Columns
from lab.sim.media.quality import Injected
from lab.sim.media.queues import InputFrame

__all__ = ["SessionTruth"]


class SessionTruth:
    """What one session really did (see the module docstring for the columns)."""

    def __init__(self, inputs: Columns) -> None:
        self.inputs = inputs
        self.frames = Columns(
            "out_seq", "sent_ns", "pts", "kind", "chunk_index", "input_seq",
            "input_received_ns", "internal_delay_ns", "input_stamp_id", "wire_ns", "ref_share",
            "flicker_offset",
        )
        self._wire_pending = False
        self.chunks = Columns(
            "chunk_index", "started_ns", "done_ns", "frames", "outputs_dropped", "compute_s",
            "warmup", "prompt",
            "update_received_ns", "ref_images", "ref_since_ns",
        )
        self.messages = Columns("received_ns", "source", "keys")
        self.stalls = Columns("started_ns", "ended_ns", "frames_dropped")

    def add_frame(
        self,
        *,
        sent_ns: int,
        pts: int,
        kind: str,
        chunk_index: int,
        source: InputFrame | None,
        injected: Injected,
    ) -> None:
        """Record a frame handed to aiortc."""
        self.frames.append(
            out_seq=len(self.frames),
            sent_ns=sent_ns,
            pts=pts,
            kind=kind,
            chunk_index=chunk_index,
            input_seq=None if source is None else source.seq,
            input_received_ns=None if source is None else source.received_ns,
            internal_delay_ns=None if source is None else sent_ns - source.received_ns,
            input_stamp_id=None if source is None else source.stamp_id,
            wire_ns=None,
            ref_share=injected.ref_share,
            flicker_offset=injected.flicker_offset,
        )
        self._wire_pending = True

    def frame_asked(self, at_ns: int) -> None:
        """aiortc asked for the next frame: the last one recorded is encoded and on the wire."""
        if self._wire_pending:
            self.frames.set_last("wire_ns", at_ns)
            self._wire_pending = False

    def to_json(self) -> dict[str, Any]:
        """Frames, inputs, chunks, messages and stalls, each as columns of lists."""
        return {
            "frames": self.frames.to_json(),
            "inputs": self.inputs.to_json(),
            "chunks": self.chunks.to_json(),
            "messages": self.messages.to_json(),
            "stalls": self.stalls.to_json(),
        }
