"""The simulator's MJPEG preview of a video-file input source (``.../sources/{identifier}/stream``).

Scope's answer (fact sheet): ``multipart/x-mixed-replace; boundary=frame``, JPEG parts at
``fps`` (1..30) at most 320 px wide, refused with 404 for an unknown source type and 400 for
an unavailable one; 422 for ``fps`` out of range. A name that is no file is the simulator's
404 and a file that is no video its 400, as for ``/resolution``. The stream must end when
its client leaves: ``/sim/state`` counts the open previews.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image

from lab import resources
from lab.sim.input_preview import preview_size
from tests.conftest import SimControl
from tests.test_sim_headless import upload

SOURCES = "/api/v1/input-sources"
CLIP_NAME = resources.CLIP.stem  # the asset's name, as the source list gives it


@pytest.fixture
async def http(sim: SimControl) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=sim.url, timeout=10) as client:
        yield client


async def open_previews(sim: SimControl) -> int:
    return int((await asyncio.to_thread(sim.state))["input_previews"])


def preview_url(identifier: str, source_type: str = "video_file") -> str:
    return f"{SOURCES}/{source_type}/sources/{identifier}/stream"


async def read_parts(http: httpx.AsyncClient, seconds: float, sim: SimControl | None = None,
                     **params: object) -> tuple[str, list[bytes]]:
    """The content type and the JPEGs of the parts received in ``seconds`` (and, given ``sim``,
    a check that the simulator counts the stream as open while it is read)."""
    data = b""
    async with http.stream("GET", preview_url(CLIP_NAME), params=params) as response:
        assert response.status_code == 200
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                async for chunk in response.aiter_raw():
                    if not data and sim is not None:
                        assert await open_previews(sim) == 1
                    data += chunk
    parts = []
    for part in data.split(b"--frame\r\n")[1:]:
        head, _, body = part.partition(b"\r\n\r\n")
        if body.endswith(b"\r\n"):  # a whole part (the last one may be cut off)
            assert head == b"Content-Type: image/jpeg"
            parts.append(body[:-2])
    return response.headers["content-type"], parts


def picture(jpeg: bytes) -> np.ndarray:
    image = Image.open(io.BytesIO(jpeg))
    assert image.format == "JPEG"
    return np.asarray(image.convert("L"), dtype=np.float64)


async def test_the_preview_is_mjpeg_at_the_asked_rate_and_ends_with_its_client(http: httpx.AsyncClient,
                                                                              sim: SimControl) -> None:
    await upload(http, resources.CLIP, resources.CLIP.name)
    content_type, parts = await read_parts(http, 2.0, sim, fps=10)
    assert content_type == "multipart/x-mixed-replace; boundary=frame"
    # 10 fps for 2 s is 20 parts (and one at once); under load allow half of that, never more.
    assert 10 <= len(parts) <= 21, len(parts)
    sizes = {Image.open(io.BytesIO(jpeg)).size for jpeg in parts}
    assert sizes == {(320, 320)}  # the 512 x 512 clip, scaled down
    assert np.abs(picture(parts[0]) - picture(parts[-1])).mean() > 1  # the clip plays
    for _ in range(100):  # the client has left: the stream ends
        if await open_previews(sim) == 0:
            break
        await asyncio.sleep(0.02)
    assert await open_previews(sim) == 0


async def test_flip_vertical_turns_the_preview_upside_down(http: httpx.AsyncClient) -> None:
    await upload(http, resources.CLIP, resources.CLIP.name)
    _, upright = await read_parts(http, 0.3)
    _, flipped = await read_parts(http, 0.3, flip_vertical=True)
    first, turned = picture(upright[0]), picture(flipped[0])  # the clip's first frame, both
    assert np.abs(first[::-1] - turned).mean() < 3 < np.abs(first - turned).mean()


@pytest.mark.parametrize(("source_type", "identifier", "params", "status"), [
    pytest.param("nope", CLIP_NAME, {}, 404, id="unknown-type"),
    pytest.param("ndi", CLIP_NAME, {}, 400, id="unavailable-type"),
    pytest.param("video_file", "nowhere.mp4", {}, 404, id="no-such-file"),
    pytest.param("video_file", "broken.mp4", {}, 400, id="not-a-video"),
    pytest.param("video_file", CLIP_NAME, {"fps": 0}, 422, id="fps-0"),
    pytest.param("video_file", CLIP_NAME, {"fps": 31}, 422, id="fps-31"),
])
async def test_refusals_come_before_the_stream(http: httpx.AsyncClient, tmp_path: Path, source_type: str,
                                               identifier: str, params: dict[str, int], status: int) -> None:
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"no video here" * 100)
    await upload(http, broken, broken.name)  # a path under the asset directory, but no video
    await upload(http, resources.CLIP, resources.CLIP.name)
    answer = await http.get(preview_url(identifier, source_type), params=params)
    assert answer.status_code == status and "detail" in answer.json()


def test_the_preview_is_at_most_320_wide() -> None:
    assert preview_size(1920, 1080) == (320, 180)
    assert preview_size(320, 240) == (320, 240)
    assert preview_size(100, 700) == (100, 700)
