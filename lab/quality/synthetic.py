"""Synthetic pictures with known properties, and the real codec round trip, for tests and benches.

The quality figures are checked against clips whose truth is known by construction (a
static picture, a pan cropped from a larger texture, a brightness flicker of known size)
and their tolerances are chosen from what aiortc's own VP8 encoder does to such clips.
"""

from __future__ import annotations

from collections.abc import Iterable
from fractions import Fraction

import av
import numpy as np
from aiortc.codecs import Vp8Decoder, Vp8Encoder, vp8_depayload
from aiortc.jitterbuffer import JitterFrame
from numpy.typing import NDArray
from scipy.ndimage import gaussian_filter

__all__ = ["texture", "vp8_round_trip"]

_RTP_CLOCK = 90_000


def texture(height: int, width: int, grain_px: float = 3.0, seed: int = 0) -> NDArray[np.uint8]:
    """Smoothed colour noise stretched to levels 20-235: detail at every position, no repeats.

    ``grain_px`` is the Gaussian blur's sigma: the size of the texture's blobs. No period,
    so a crop shifted by a few pixels can only be matched by the true shift.
    """
    rng = np.random.default_rng(seed)
    planes = np.stack([gaussian_filter(rng.standard_normal((height, width)), grain_px) for _ in range(3)], axis=-1)
    planes = (planes - planes.min()) / np.ptp(planes)
    return np.rint(20 + 215 * planes).astype(np.uint8)


def vp8_round_trip(frames: Iterable[NDArray[np.uint8]], bitrate: int, fps: float = 30.0) -> list[NDArray[np.uint8]]:
    """RGB frames through aiortc's VP8 encoder, RTP packetizer and decoder (no loss), as RGB.

    The same encoder settings a stream gets from an aiortc sender (Scope's and the
    simulator's): real-time CBR at ``bitrate`` (aiortc clamps it to 250-1500 kbit/s).
    """
    encoder, decoder = Vp8Encoder(), Vp8Decoder()
    encoder.target_bitrate = bitrate
    decoded: list[NDArray[np.uint8]] = []
    for i, picture in enumerate(frames):
        frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
        frame.pts, frame.time_base = round(i * _RTP_CLOCK / fps), Fraction(1, _RTP_CLOCK)
        payloads, timestamp = encoder.encode(frame)
        data = b"".join(vp8_depayload(payload) for payload in payloads)
        decoded += [out.to_ndarray(format="rgb24") for out in decoder.decode(JitterFrame(data, timestamp))]
    return decoded
