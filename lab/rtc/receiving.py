"""What a WebRTC session records as it receives: its connection timeline and each frame's times.

Every time is on ``time.perf_counter_ns`` (CLOCK_MONOTONIC on Linux, so the simulator's
ground truth in another process shares the clock). Each received frame gets:

- ``complete_ns``: the last RTP packet of the frame (marker bit) arrived: the frame could
  be decoded from then on. This is the arrival time used for latency;
- ``first_packet_ns``: its first RTP packet arrived;
- ``decoded_ns``: aiortc handed over the decoded frame. aiortc's jitter buffer releases a
  frame only when a packet of the *next* frame arrives, so ``decoded_ns - complete_ns`` is
  about one frame interval: a receive-path bias that is recorded per frame
  (``FrameLog.receive_bias_ms``) and never used as arrival time.

The packet times come from :class:`lab.rtc.receiver_hooks.PacketTimes`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from aiortc import MediaStreamTrack

from lab.feed import FrameFeed, ReceivedFrame
from lab.rtc.receiver_hooks import PacketTimes

__all__ = ["SessionTimeline", "receive_frames", "span_s"]


@dataclass
class SessionTimeline:
    """When each connection phase happened (perf_counter_ns), and the durations between."""

    offer_sent_ns: int | None = None
    answer_received_ns: int | None = None
    connected_ns: int | None = None
    first_frame_ns: int | None = None

    @property
    def signalling_s(self) -> float | None:
        """Offer sent to answer received."""
        return span_s(self.offer_sent_ns, self.answer_received_ns)

    @property
    def connect_s(self) -> float | None:
        """Answer received to ICE+DTLS connected."""
        return span_s(self.answer_received_ns, self.connected_ns)

    @property
    def first_frame_s(self) -> float | None:
        """Connected to the first complete output frame."""
        return span_s(self.connected_ns, self.first_frame_ns)

    @property
    def ttff_s(self) -> float | None:
        """Offer sent to the first complete output frame (time to first frame)."""
        return span_s(self.offer_sent_ns, self.first_frame_ns)


def span_s(start: int | None, end: int | None) -> float | None:
    """Seconds from ``start`` to ``end`` (perf_counter_ns stamps); None when either is missing."""
    return None if start is None or end is None else (end - start) / 1e9


async def receive_frames(track: MediaStreamTrack, packet_times: PacketTimes, feed: FrameFeed,
                         timeline: SessionTimeline) -> None:
    """Deliver each decoded frame of ``track`` to ``feed`` with its times, until ``recv()`` raises.

    The first frame's arrival is the timeline's ``first_frame_ns``. A frame whose packet
    times are unknown counts as arriving at its decode time.
    """
    seq = 0
    while True:
        frame = await track.recv()
        decoded_ns = time.perf_counter_ns()
        first_ns, last_ns = packet_times.lookup(frame.pts)
        received = ReceivedFrame(seq, last_ns or decoded_ns, first_ns, decoded_ns,
                                 frame.pts, frame.width, frame.height, frame)
        if seq == 0:
            timeline.first_frame_ns = received.complete_ns
        seq += 1
        feed.deliver(received)
