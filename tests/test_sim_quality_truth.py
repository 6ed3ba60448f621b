"""The simulator's quality truth: reference share, identity drift and flicker, end to end.

The knobs are set through ``PUT /sim/media``; a real session runs against the simulator;
the truth (``/sim/sessions/{id}/truth``) is checked against hand arithmetic from the knobs,
and the received, decoded frames against the truth: the reference picture must really be
in them in proportion to ``ref_share``, and their brightness must move by ``flicker_offset``.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import Image

from lab.client import ScopeClient
from lab.rtc import ReceivedFrame, open_session
from lab.sim.media.quality import ReferenceImageError, reference_picture
from lab.sources import TestPatternSource
from tests.conftest import SimControl

pytestmark = pytest.mark.slow  # streams in real time: `make check` leaves it out

SIDE = 384  # streamdiffusionv2 at 384 x 384 runs about 29 fps once warm (VACE loaded)
SMALL = 64  # received frames are compared at 64 x 64
LUMA = np.array([0.299, 0.587, 0.114], np.float32)


# --- helpers ------------------------------------------------------------------------------


def reference_png() -> bytes:
    """A 4 x 4 grid of mid-tone blocks: strong structure, far from 0 and 255 (no clipping)."""
    colours = np.random.default_rng(7).integers(50, 200, (4, 4, 3)).astype(np.uint8)
    pixels = np.kron(colours, np.ones((SIDE // 4, SIDE // 4, 1), np.uint8))
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def at_small(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB").resize((SMALL, SMALL)), np.float32)


async def vace_session_frames(
    client: ScopeClient, sim: SimControl, knobs: dict[str, float], seconds_after_refs: float
) -> tuple[dict[str, Any], dict[int, np.ndarray], np.ndarray, str]:
    """Stream streamdiffusionv2 (text mode), send a reference after warm-up, keep receiving.

    Returns the truth, the received frames at 64 x 64 by pts, the reference at 64 x 64 and
    its server path.
    """
    sim.put("/sim/models", {"streamdiffusionv2": True})
    sim.put("/sim/media", knobs)
    await client.load_pipeline("streamdiffusionv2", {"height": SIDE, "width": SIDE})
    png = reference_png()
    path = (await client.upload_asset(png, "grid.png")).path
    received: dict[int, np.ndarray] = {}

    def keep(frame: ReceivedFrame) -> None:
        received[frame.pts] = frame.frame.to_ndarray(
            format="rgb24", width=SMALL, height=SMALL
        ).astype(np.float32)

    async with open_session(
        client, ["streamdiffusionv2"], mode="text",
        parameters={"prompts": [{"text": "a portrait in a garden"}]}, connect_timeout_s=5,
    ) as session:
        session.on_frame(keep)
        await session.wait_frames(30)  # warm-up is over
        await session.send({"vace_ref_images": [path], "vace_context_scale": 2.0})
        # Frames the simulator made before the update may still be on their way, more of them
        # when the machine is busy: keep receiving until its truth shows a chunk started
        # ``seconds_after_refs`` after the one that applied the references.
        for _ in range(round(seconds_after_refs) + 20):
            await session.wait_frames(len(session.log) + 29)
            record = sim.truth(session.session_id)
            if seconds_since_refs(record["chunks"]) >= seconds_after_refs:
                break
        else:
            pytest.fail(f"the simulator did not get {seconds_after_refs} s past the references")
    return record, received, at_small(png), path


def seconds_since_refs(chunks: dict[str, list[Any]]) -> float:
    """From the start of the chunk that applied the references to the start of the last chunk
    (0 before they are applied)."""
    applied = [start for start, since in zip(chunks["started_ns"], chunks["ref_since_ns"]) if since is not None]
    return (chunks["started_ns"][-1] - applied[0]) / 1e9 if applied else 0.0


def matched(
    record: dict[str, Any], received: dict[int, np.ndarray]
) -> list[tuple[int, np.ndarray]]:
    """(truth row, received pixels) pairs, by pts (aiortc's packetizer may round by a tick)."""
    seen = np.array(sorted(received))
    pairs = []
    for row, pts in enumerate(record["frames"]["pts"]):
        nearest = seen[np.abs(seen - pts).argmin()]
        if abs(nearest - pts) <= 2:
            pairs.append((row, received[int(nearest)]))
    return pairs


def reference_content(frame: np.ndarray, reference: np.ndarray) -> float:
    """How much of ``reference`` is in ``frame``: least-squares coefficient, means removed."""
    r = reference - reference.mean(axis=(0, 1))
    f = frame - frame.mean(axis=(0, 1))
    return float((f * r).sum() / (r * r).sum())


# --- the reference share and identity drift -----------------------------------------------


async def test_reference_share_decays_as_configured_and_frames_show_it(
    client: ScopeClient, sim: SimControl
) -> None:
    knobs = {"vace_ref_share": 0.6, "identity_drift_per_s": 0.4, "flicker_amplitude": 0.0}
    record, received, reference, path = await vace_session_frames(client, sim, knobs, 3.0)
    frames, chunks = record["frames"], record["chunks"]
    [applied] = [i for i, t in enumerate(chunks["update_received_ns"]) if t is not None]
    assert chunks["ref_images"][applied - 1:applied + 2] == [[], [path], [path]]
    assert set(chunks["ref_since_ns"][applied:]) == {chunks["started_ns"][applied]}
    # Hand arithmetic: share0 = min(0.6 x 2, 0.9) = 0.9; frame k of chunk c is at
    # t = (start(c) - start(applied)) + k / frames(c) x compute(c); share = 0.9 (1 - 0.4 t)+.
    expected, within_chunk = [], 0
    for row, chunk in enumerate(frames["chunk_index"]):
        within_chunk = within_chunk + 1 if row and chunk == frames["chunk_index"][row - 1] else 0
        if chunk < applied:
            expected.append(0.0)
            continue
        t = (chunks["started_ns"][chunk] - chunks["started_ns"][applied]) / 1e9
        t += within_chunk / chunks["frames"][chunk] * chunks["compute_s"][chunk]
        expected.append(0.9 * max(0.0, 1 - 0.4 * t))
    assert frames["ref_share"] == pytest.approx(expected, abs=1e-9)
    assert frames["ref_share"][frames["chunk_index"].index(applied)] == 0.9
    assert frames["ref_share"][-1] == 0.0  # 3 s after: gone at 1 / 0.4 = 2.5 s
    assert set(frames["flicker_offset"]) == {0.0}
    # The received pixels hold the reference in proportion to the truth's share.
    pairs = matched(record, received)
    share = np.array([frames["ref_share"][row] for row, _ in pairs])
    content = np.array([reference_content(pixels, reference) for _, pixels in pairs])
    assert len(pairs) > 0.9 * len(frames["pts"]) and share.max() == 0.9
    slope, intercept = np.polyfit(share, content, 1)
    # Slightly under 1: upscaling and VP8 soften the picture's edges.
    assert np.corrcoef(share, content)[0, 1] > 0.98
    assert 0.85 < slope < 1.05 and abs(intercept) < 0.05


# --- flicker ------------------------------------------------------------------------------


async def test_flicker_offsets_have_the_amplitude_and_move_the_received_brightness(
    client: ScopeClient, sim: SimControl
) -> None:
    # The reference at 90% and no drift keeps the picture still and mid-tone: brightness
    # changes between frames are then the flicker.
    amplitude = 10.0
    knobs = {"vace_ref_share": 0.6, "identity_drift_per_s": 0.0, "flicker_amplitude": amplitude}
    record, received, _, _ = await vace_session_frames(client, sim, knobs, 2.5)
    offsets = np.array(record["frames"]["flicker_offset"])
    assert np.abs(offsets).max() <= amplitude
    assert offsets.std() == pytest.approx(amplitude / np.sqrt(3), rel=0.2)  # uniform in [-a, a]
    # A new offset every frame, independent of the last: lag-1 autocorrelation within 4 standard
    # errors of 0 (1/sqrt(n) each). (A mean |step| against 2a/3 at ±20 % failed once in a clean-
    # clone CI run at 8.33 against 6.67, with the sample unknown; a quiet run gives 6.96 over 118.)
    lag1 = np.corrcoef(offsets[:-1], offsets[1:])[0, 1]
    assert abs(lag1) < 4 / np.sqrt(len(offsets)), f"lag-1 autocorrelation {lag1:.2f} over {len(offsets)} frames"
    still = [(row, pixels) for row, pixels in matched(record, received)
             if record["frames"]["ref_share"][row] == 0.9]
    rows = np.array([row for row, _ in still])
    luma = np.array([(pixels @ LUMA).mean() for _, pixels in still])
    consecutive = np.diff(rows) == 1
    seen = np.diff(luma)[consecutive]
    injected = np.diff(offsets[rows])[consecutive]
    assert len(seen) > 40
    # VP8 is lossy: a brightness step comes through within about a level, not exactly.
    slope, _ = np.polyfit(injected, seen, 1)
    assert slope == pytest.approx(1.0, abs=0.1)
    assert np.corrcoef(injected, seen)[0, 1] > 0.98
    assert np.abs(seen - injected).mean() < 1.0


# --- knobs, defaults and bad references ---------------------------------------------------


async def test_gray_gets_no_flicker_whatever_the_knob(client: ScopeClient, sim: SimControl) -> None:
    sim.put("/sim/media", {"flicker_amplitude": 20.0})
    await client.load_pipeline("gray")
    async with open_session(
        client, ["gray"], source=TestPatternSource(128, 128, 30), connect_timeout_s=5
    ) as session:
        await session.wait_frames(10)
        record = sim.truth(session.session_id)
    assert set(record["frames"]["flicker_offset"]) == {0.0}
    assert set(record["frames"]["ref_share"]) == {0.0}


def test_knobs_override_the_profile_until_null_or_reset(sim: SimControl) -> None:
    profile = {"vace_ref_share": None, "identity_drift_per_s": None, "flicker_amplitude": None}
    assert sim.state()["media"]["quality"] == profile
    sim.put("/sim/media", {"identity_drift_per_s": 0.1, "flicker_amplitude": 3})
    sim.put("/sim/media", {"extra_delay_s": 0.01})  # other knobs leave them alone
    assert sim.state()["media"]["quality"] == {**profile, "identity_drift_per_s": 0.1,
                                               "flicker_amplitude": 3.0}
    sim.put("/sim/media", {"identity_drift_per_s": None})  # back to the profile's value
    assert sim.state()["media"]["quality"] == {**profile, "flicker_amplitude": 3.0}
    with httpx.Client(base_url=sim.url) as http:
        refused = http.put("/sim/media", json={"vace_ref_share": 0.95})
    assert refused.status_code == 422 and "vace_ref_share" in refused.text
    sim.reset()
    assert sim.state()["media"]["quality"] == profile


def test_reference_images_that_cannot_be_painted_say_why(tmp_path: Path) -> None:
    not_png = tmp_path / "notes.png"
    not_png.write_text("not an image")
    cases = [("grid.png", "not an absolute path"), (str(tmp_path / "gone.png"), "cannot be read"),
             (str(not_png), "not a readable image")]
    for path, reason in cases:
        with pytest.raises(ReferenceImageError, match=reason):
            reference_picture([path], 8, 8)
