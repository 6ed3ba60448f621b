"""Server-side input sources: the ``video_file`` source the simulator emulates.

A headless session in video mode gets its input from a source on the server, not from a
client. The emulated pod has no NDI, Spout or Syphon (:mod:`lab.sim.integrations` refuses
them), but it can play a video file: ``source_name`` is an absolute path, a path under the
asset directory, or an asset's name as ``/input-sources/video_file/sources`` lists it.
The file is decoded in real time at its own frame rate and looped
(:class:`lab.sources.VideoFileSource`), as a live source would keep sending.

Where Scope's answers are not known (the metadata of a listed file, a name that is no
file), the simulator chooses: ``{"path", "size_mb"}`` and 404.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import av

from lab.sim.assets import AssetStore
from lab.sim.errors import RouteError
from lab.sources import VideoFileSource
from lab.sources.base import Picture

__all__ = [
    "VIDEO_FILE",
    "InputSourceError",
    "find_video_file",
    "open_video_file",
    "playable_video_file",
    "video_file_sources",
    "video_resolution",
]

VIDEO_FILE = "video_file"


class InputSourceError(RouteError):
    """An input source that cannot be opened (404: no such file; 400: not a video)."""


class _FlippedFile(VideoFileSource):
    """A video file upside down (``flip_vertical``)."""

    def render(self, index: int) -> Picture:
        return super().render(index)[::-1]


def find_video_file(source_name: str, assets: AssetStore) -> Path:
    """The file ``source_name`` names: a path, a path under the assets, or an asset's name.

    Raises
    ------
    InputSourceError
        404 if no such file exists.
    """
    if not source_name:
        raise InputSourceError(404, "Video file source needs source_name (a path or an asset's name)")
    for candidate in (Path(source_name), assets.root / source_name):
        if candidate.is_file():
            return candidate.resolve()
    for asset in assets.list("video"):
        if source_name == asset["name"]:
            return Path(asset["path"])
    raise InputSourceError(404, f"Video file {source_name} not found")


def open_video_file(source_name: str, assets: AssetStore, *, flip_vertical: bool = False) -> VideoFileSource:
    """A looping, real-time track of the file ``source_name`` names.

    Raises
    ------
    InputSourceError
        404 if there is no such file, 400 if it holds no video PyAV can decode.
    """
    path = find_video_file(source_name, assets)
    size = _resolution(path)
    # Sources are 4:2:0, so an odd-sized file is scaled by a pixel to even (Scope pads instead).
    width, height = size["width"] + size["width"] % 2, size["height"] + size["height"] % 2
    return (_FlippedFile if flip_vertical else VideoFileSource)(path, loop=True, width=width, height=height)


def playable_video_file(source_name: str, assets: AssetStore) -> Path:
    """The file ``source_name`` names, checked to hold video PyAV can decode.

    Raises
    ------
    InputSourceError
        As :func:`open_video_file`.
    """
    path = find_video_file(source_name, assets)
    _resolution(path)
    return path


def video_file_sources(assets: AssetStore) -> list[dict[str, Any]]:
    """The video assets, as ``/input-sources/video_file/sources`` lists them."""
    return [{"name": asset["name"], "identifier": asset["path"],
             "metadata": {"path": asset["path"], "size_mb": asset["size_mb"]}}
            for asset in assets.list("video")]


def video_resolution(source_name: str, assets: AssetStore) -> dict[str, int]:
    """``{"width", "height"}`` of a video file's first stream.

    Raises
    ------
    InputSourceError
        As :func:`open_video_file`.
    """
    return _resolution(find_video_file(source_name, assets))


def _resolution(path: Path) -> dict[str, int]:
    try:
        with av.open(str(path)) as container:
            context = container.streams.video[0].codec_context
            return {"width": context.width, "height": context.height}
    except (av.FFmpegError, IndexError) as exc:
        raise InputSourceError(400, f"{path} is not a video file the server can decode ({exc})") from None
