"""Client capacity: how many frames per second the receive + analysis path sustains on one core.

Receiving a frame costs a VP8 decode (as aiortc's receiver does); measuring it adds what a
trial does per frame (:mod:`lab.measure.recorder` records a stamp reading and a
thumbnail for change detection). Both are timed in one run on the same frames, single
threaded, so the ratio holds on a busy machine even when the absolute numbers wander.
Target: at least 60 fps with analysis at 512x512, so the instrument is never the
bottleneck (Scope on an RTX 5090 delivers about 8-25 fps).

Run: ``.venv/bin/python bench/bench_client_capacity.py [--frames 300]``
"""

from __future__ import annotations

import argparse
import time
from fractions import Fraction

import av
import numpy as np

from lab.measure.change import thumbnail
from lab.stamp import decode_stamp, stamp_frame

WIDTH, HEIGHT, FPS = 512, 512, 30


def encoded_packets(frames: int) -> list[av.Packet]:
    """VP8 packets of a moving, noisy, stamped 512x512 picture (what the receiver gets)."""
    encoder = av.CodecContext.create("libvpx", "w")
    encoder.width, encoder.height, encoder.pix_fmt = WIDTH, HEIGHT, "yuv420p"
    encoder.time_base, encoder.bit_rate = Fraction(1, FPS), 1_500_000
    encoder.thread_count = 1
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH]
    packets = []
    for i in range(frames):
        picture = np.stack([(xx + 4 * i) % 256, (yy + 2 * i) % 256, (xx + yy) % 256], axis=-1).astype(np.uint8)
        picture = np.clip(picture + rng.normal(0, 6, picture.shape), 0, 255).astype(np.uint8)
        frame = av.VideoFrame.from_ndarray(stamp_frame(picture, i), format="rgb24").reformat(format="yuv420p")
        frame.pts = i
        packets.extend(encoder.encode(frame))
    packets.extend(encoder.encode(None))
    return packets


def run(packets: list[av.Packet], analyse: bool) -> tuple[float, int]:
    """Decode every packet (and analyse each frame if asked); return (seconds, stamps read)."""
    decoder = av.CodecContext.create("libvpx", "r")
    decoder.thread_count = 1
    read = 0
    started = time.process_time()
    for packet in packets:
        for frame in decoder.decode(packet):
            if analyse:
                read += decode_stamp(frame).ok
                thumbnail(frame)
    return time.process_time() - started, read


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=300)
    args = parser.parse_args()
    packets = encoded_packets(args.frames)
    plain, _ = run(packets, analyse=False)
    measured, read = run(packets, analyse=True)
    print(f"{args.frames} frames {WIDTH}x{HEIGHT} VP8, one thread, CPU time:")
    print(f"  receive (decode) only      : {args.frames / plain:7.1f} fps  ({1e3 * plain / args.frames:.2f} ms/frame)")
    print(f"  receive + analysis         : {args.frames / measured:7.1f} fps  ({1e3 * measured / args.frames:.2f} ms/frame)")
    print(f"  analysis overhead (ratio)  : {measured / plain:.2f}x   stamps read {read}/{args.frames}")


if __name__ == "__main__":
    main()
