"""Measurement: the frame stamp codec (more to come: latency, warm-up, throughput, statistics).

The stamp codec writes a frame id into the pixels of a frame and reads it back after a
round trip through a video codec; see :mod:`lab.measure.stamp`.
"""

from __future__ import annotations

from lab.measure.stamp import StampReading, decode_stamp, stamp_frame

__all__ = ["StampReading", "decode_stamp", "stamp_frame"]
