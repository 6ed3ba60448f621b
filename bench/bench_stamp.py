"""Benchmark the frame stamp codec: microseconds per frame to stamp and to decode.

Decoding runs on every received frame, so it must stay well under a millisecond. This
times :func:`lab.stamp.stamp_frame` and :func:`lab.stamp.decode_stamp`
at Scope's two resolutions, decoding from the three inputs a receiver may hold: an RGB
array, a decoded ``yuv420p`` frame (read from its luma plane) and an ``rgb24`` frame.

Usage::

    .venv/bin/python bench/bench_stamp.py [--calls 2000]
"""

from __future__ import annotations

import argparse
import platform
from collections.abc import Callable

import av
import numpy as np

from lab.stamp import decode_stamp, stamp_frame
from timing import time_calls  # bench/timing.py (scripts run from bench/ on sys.path)

SIZES = ((512, 512), (576, 320))  # width x height
WARMUP_CALLS = 50


def time_calls_us(call: Callable[[], object], calls: int) -> np.ndarray:
    """Wall time of each of ``calls`` calls, in microseconds, after a warm-up."""
    return time_calls(call, calls, warmup=WARMUP_CALLS, unit_s=1e-6)


def summary(times: np.ndarray) -> str:
    mean, std = times.mean(), times.std(ddof=1)
    line = (f"n={len(times)}  mean {mean:7.1f} ± {std:6.1f} µs  median {np.median(times):7.1f} µs"
            f"  p95 {np.percentile(times, 95):7.1f} µs")
    if std >= 0.1 * mean:
        line += "  (CV >= 10%: the machine was busy; the median is the better guide)"
    return line


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--calls", type=int, default=2000, help="timed calls per case")
    args = parser.parse_args()

    print(f"{platform.node()}  {platform.processor() or platform.machine()}  "
          f"Python {platform.python_version()}  numpy {np.__version__}  PyAV {av.__version__}")
    rng = np.random.default_rng(0)
    for width, height in SIZES:
        picture = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        stamped = stamp_frame(picture, 123_456)
        rgb_frame = av.VideoFrame.from_ndarray(stamped, format="rgb24")
        yuv_frame = rgb_frame.reformat(format="yuv420p")
        cases = {
            "stamp_frame (copy + stamp)": lambda: stamp_frame(picture, 123_456),
            "decode_stamp(RGB array)": lambda: decode_stamp(stamped),
            "decode_stamp(yuv420p VideoFrame)": lambda: decode_stamp(yuv_frame),
            "decode_stamp(rgb24 VideoFrame)": lambda: decode_stamp(rgb_frame),
        }
        print(f"\n{width}x{height}")
        for name, call in cases.items():
            print(f"  {name:34s} {summary(time_calls_us(call, args.calls))}")


if __name__ == "__main__":
    main()
