"""Benchmark the model-free quality figures: cost per scored frame, and the evidence for their settings.

Default: milliseconds per call of each figure (:mod:`lab.quality`) on 256x256 and 128x128
samples, median and p95 over timed calls after a warm-up, one core.

``--codec-noise``: the measurement behind :data:`lab.quality.DUPLICATE_TOLERANCE`. A
textured picture pans in steps, each step held for several frames as a pipeline repeats
frames it has not replaced; the clip goes through aiortc's VP8 round trip at its bitrate
floor, default and ceiling; the decoded frames are sampled at 256 px. Repeats should fall
within the tolerance (against the previous frame and against the run's first frame), steps
of real motion beyond it.

``--presets``: the warp error of a pure pan (ideally 0) and the cost of each DIS preset,
behind :data:`lab.quality.flow.DIS_PRESET`.

``--clip``: milliseconds per frame and per prompt of the default embedding model's
architecture (CLIP ViT-B/32, :data:`lab.quality.embed.DEFAULT_MODEL`) through
:class:`lab.quality.embed.ClipEmbedder`, with random weights: no download, and the same
arithmetic as the trained model. Needs the ``quality`` extra.

Usage::

    .venv/bin/python bench/bench_quality.py [--calls 100] [--codec-noise] [--presets] [--clip]
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from lab import quality
from lab.quality import flow
from lab.quality.synthetic import texture, vp8_round_trip
from timing import time_calls  # bench/timing.py (scripts run from bench/ on sys.path)

SIZES = (256, 128)
WARMUP_CALLS = 5


def time_calls_ms(call: Callable[[], object], calls: int) -> np.ndarray:
    """Wall time of each of ``calls`` calls, in milliseconds, after a warm-up."""
    return time_calls(call, calls, warmup=WARMUP_CALLS, unit_s=1e-3)


def cost_table(calls: int) -> None:
    print(f"{'figure':<34} {'size':>7} {'median ms':>10} {'p95 ms':>8}  per")
    for size in SIZES:
        big = texture(size + 16, size + 16, seed=1)
        a, b = big[:size, :size], big[3:size + 3, 2:size + 2]  # a pan of (2, 3) px
        times = np.arange(60) * 0.5
        cases = {
            "luma": (lambda: quality.luma(a), "frame"),
            "warp_error (flicker)": (lambda: quality.warp_error(a, b), "sampled pair"),
            "structural_similarity": (lambda: quality.structural_similarity(a, b), "input/output pair"),
            "sharpness": (lambda: quality.sharpness(a), "frame"),
            "duplicate_share (2 frames)": (lambda: quality.duplicate_share([a, b]), "frame"),
            "trend (60 samples)": (lambda: quality.trend(times, np.sin(times)), "trial"),
        }
        for name, (call, per) in cases.items():
            ms = time_calls_ms(call, calls)
            print(f"{name:<34} {size:>3}x{size:<3} {np.median(ms):>10.2f} {np.percentile(ms, 95):>8.2f}  {per}")


def mean_abs_diffs(planes: list[np.ndarray], reference: Callable[[int], int]) -> np.ndarray:
    """Mean |dY| of each plane after the first against the plane ``reference(i)``."""
    return np.array([np.abs(planes[i] - planes[reference(i)]).mean() for i in range(1, len(planes))])


def sampled_round_trip(pictures: list[np.ndarray], bitrate: int) -> list[np.ndarray]:
    return [quality.luma(cv2.resize(f, (256, 256), interpolation=cv2.INTER_AREA))
            for f in vp8_round_trip(pictures, bitrate)]


def codec_noise() -> None:
    hold, steps, source, bitrates = 4, 24, 512, (250_000, 500_000, 1_500_000)
    print(f"VP8 via aiortc, {source} px source sampled at 256 px; mean |dY| in levels")
    print(f"\nA picture held from the start for {steps * hold} frames (the encoder refines it as it goes),"
          " worst of 3 pictures:")
    print(f"{'grain':>5} {'kbit/s':>6} | {'to previous max':>15} {'to first max':>12}")
    worst_repeat, least_step = 0.0, np.inf
    for grain in (1.5, 4.0, 12.0):
        pictures = [texture(source, source, grain_px=grain, seed=seed) for seed in (1, 2, 3)]
        for bitrate in bitrates:
            to_previous, to_first = 0.0, 0.0
            for picture in pictures:
                planes = sampled_round_trip([picture] * (steps * hold), bitrate)
                to_previous = max(to_previous, mean_abs_diffs(planes, lambda i: i - 1).max())
                to_first = max(to_first, mean_abs_diffs(planes, lambda i: 0).max())
            print(f"{grain:>5} {bitrate // 1000:>6} | {to_previous:>15.2f} {to_first:>12.2f}")
            worst_repeat = max(worst_repeat, to_previous)
    print(f"\nA texture panning in steps, each held for {hold} frames (as a pipeline repeats frames):")
    print(f"{'grain':>5} {'step':>5} {'kbit/s':>6} | {'repeat max':>10} {'p95':>5} {'to hold start':>13} | "
          f"{'step min':>8} {'median':>6}")
    for grain in (1.5, 4.0, 12.0):
        big = texture(source + steps * 8, source, grain_px=grain, seed=2)
        for step_px in (2, 8):  # 1 and 4 px at the 256 px sample
            pictures = [big[s * step_px:s * step_px + source] for s in range(steps) for _ in range(hold)]
            for bitrate in bitrates:
                planes = sampled_round_trip(pictures, bitrate)
                to_previous = mean_abs_diffs(planes, lambda i: i - 1)
                to_start = mean_abs_diffs(planes, lambda i: i - i % hold)
                repeat = np.arange(1, len(planes)) % hold != 0
                print(f"{grain:>5} {step_px:>5} {bitrate // 1000:>6} | {to_previous[repeat].max():>10.2f} "
                      f"{np.percentile(to_previous[repeat], 95):>5.2f} {to_start[repeat].max():>13.2f} | "
                      f"{to_previous[~repeat].min():>8.2f} {np.median(to_previous[~repeat]):>6.2f}")
                worst_repeat = max(worst_repeat, to_previous[repeat].max())
                if grain < 12:  # sub-pixel steps of the smoothest texture barely get through the encoder
                    least_step = min(least_step, to_previous[~repeat].min())
    print(f"\nlargest repeat vs previous frame {worst_repeat:.2f}; smallest step of textured content "
          f"(grain < 12) {least_step:.2f}; tolerance {quality.DUPLICATE_TOLERANCE}")


def presets(calls: int) -> None:
    names = {"ULTRAFAST": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST, "FAST": cv2.DISOPTICAL_FLOW_PRESET_FAST,
             "MEDIUM": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM}
    chosen = flow.DIS_PRESET
    print(f"{'preset':<10} {'size':>7} {'pan px':>6} {'warp error':>10} {'plain diff':>10} {'median ms':>10}")
    try:
        for name, preset in names.items():
            flow.DIS_PRESET = preset
            for size in SIZES:
                big = texture(size + 16, size + 16, seed=1)
                a = big[:size, :size]
                for shift in (1, 3, 6):
                    b = big[shift:size + shift, shift:size + shift]
                    plain = np.abs(quality.luma(a) - quality.luma(b)).mean()
                    error = quality.warp_error(a, b)
                    ms = np.median(time_calls_ms(lambda: quality.warp_error(a, b), calls))
                    print(f"{name:<10} {size:>3}x{size:<3} {shift:>6} {error:>10.3f} {plain:>10.2f} {ms:>10.2f}")
    finally:
        flow.DIS_PRESET = chosen


def clip_cost(calls: int, folder: Path) -> None:
    """Per-frame and per-prompt cost of a ViT-B/32 CLIP (random weights) in batches of 32."""
    import torch
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPTokenizerFast

    from lab.quality.embed import ClipEmbedder

    CLIPModel(CLIPConfig()).save_pretrained(folder)  # transformers' default config is ViT-B/32
    CLIPImageProcessor().save_pretrained(folder)
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1, "a</w>": 2, "portrait</w>": 3}
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    CLIPTokenizerFast(vocab_file=str(folder / "vocab.json"), merges_file=str(folder / "merges.txt")).save_pretrained(folder)
    embedder = ClipEmbedder("ViT-B/32 (random weights)", folder)
    frames = [texture(256, 256, seed=k) for k in range(32)]
    batches = max(calls // 32, 3)
    per_frame = time_calls_ms(lambda: embedder.images(frames), batches) / len(frames)
    per_prompt = time_calls_ms(lambda: embedder.texts(["a portrait"]), batches)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    print("| embedding (CLIP ViT-B/32) | median ms | p95 ms |")
    print("|---|---|---|")
    print(f"| per frame (batch of 32, 256 px in, 224 px model) | {np.median(per_frame):.1f} | "
          f"{np.percentile(per_frame, 95):.1f} |")
    print(f"| per prompt | {np.median(per_prompt):.1f} | {np.percentile(per_prompt, 95):.1f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--calls", type=int, default=100, help="timed calls per case")
    parser.add_argument("--codec-noise", action="store_true", help="measure VP8 noise on repeated pictures")
    parser.add_argument("--presets", action="store_true", help="compare the DIS presets on a pure pan")
    parser.add_argument("--clip", action="store_true", help="cost of the CLIP embedding (quality extra)")
    args = parser.parse_args()
    cv2.setNumThreads(1)
    print(f"{platform.node()}  {platform.processor() or platform.machine()}  Python {platform.python_version()}  "
          f"OpenCV {cv2.__version__}  one thread")
    if args.codec_noise:
        codec_noise()
    elif args.presets:
        presets(max(args.calls // 5, 5))
    elif args.clip:
        with tempfile.TemporaryDirectory() as folder:
            clip_cost(args.calls, Path(folder))
    else:
        cost_table(args.calls)


if __name__ == "__main__":
    main()
