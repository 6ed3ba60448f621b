"""The live panel's logic, without widgets: load, stream, steer, measure, save.

:class:`LiveController` is what :class:`lab.live.panel.LivePanel` drives, and what tests
drive without a browser: one pipeline load at a time (:mod:`lab.live.loading`; a load
stops the running stream first), one stream at a time (:mod:`lab.live.streaming`; a
server-side end is noticed and reported), its figures (:attr:`LiveController.stats`) and
what is saved of it (:mod:`lab.live.saving`), labelled SIMULATED for the simulator.

Listeners registered with :meth:`on_change` are called after every state change, and
those registered with :meth:`on_frame` with every frame (in the receive loop: keep them
cheap). Everything runs on the event loop that called :meth:`connect`; at interpreter
exit (a kernel shut down from JupyterLab exits normally) what is still open is closed
without it.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import logging
import weakref
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from lab.client import LoadResult, ScopeClient
from lab.connect import connect
from lab.live.controls import AT_ONCE, Transition
from lab.live.inputs import InputChoice
from lab.live.loading import LoadedPipeline, LoadStatus, PipelineChoice, PipelineLoader
from lab.live.results import LIVE_RESULTS_DIR, ClipSummary
from lab.live.saving import StreamSaver, stream_details
from lab.live.stats import LiveStats
from lab.live.streaming import LiveStream, StreamState, open_input
from lab.models import AssetInfo, PipelineSchema
from lab.overview import ServerOverview, server_overview
from lab.rtc import ReceivedFrame
from lab.sources import VideoSource

__all__ = ["LiveController", "DEFAULT_INPUT_FPS"]

log = logging.getLogger(__name__)

DEFAULT_INPUT_FPS = 15.0


class LiveController:
    """Load, stream, steer and record one Scope server's pipeline; see the module docstring.

    Create it with :meth:`connect`.

    Attributes
    ----------
    overview:
        The server's health, hardware and schemas as read at connect time.
    load_status, stream_state, message:
        Where things are, for display.
    loaded:
        The pipeline this controller loaded last (None before).
    stats:
        Rolling figures of the current stream (reset at each start).
    last_frame:
        The newest received frame (for snapshots).
    """

    def __init__(self, client: ScopeClient, overview: ServerOverview, *, results_root: Path | str,
                 input_fps: float, owns_client: bool) -> None:
        self.client = client
        self.overview = overview
        self.input_fps = input_fps
        self.stream_state = StreamState.STOPPED
        self.message = f"connected to {overview.url} [{overview.source_label}]"
        self.stats = LiveStats()
        self.last_frame: ReceivedFrame | None = None
        self._loader = PipelineLoader(client, overview, self._changed)
        self._saver = StreamSaver.for_server(results_root, overview, self._changed)
        self._owns_client = owns_client
        self._stream: LiveStream | None = None
        self._change_listeners: list[Callable[[], None]] = []
        self._frame_listeners: list[Callable[[ReceivedFrame], None]] = []
        self._closed = False
        _OPEN_CONTROLLERS.add(self)

    @classmethod
    async def connect(cls, target: str | ScopeClient = "sim", *, results_root: Path | str = LIVE_RESULTS_DIR,
                      input_fps: float = DEFAULT_INPUT_FPS) -> LiveController:
        """Connect to a server (URL, pod id, ``"sim"`` or an open client) and read what it offers.

        Examples
        --------
        >>> controller = await LiveController.connect("sim")             # doctest: +SKIP
        >>> await controller.load("longlive", "text")                     # doctest: +SKIP
        >>> await controller.start(None, {"prompts": [{"text": "a fox", "weight": 1.0}]})  # doctest: +SKIP
        """
        owns = not isinstance(target, ScopeClient)
        client = connect(target) if isinstance(target, str) else target
        try:
            overview = await server_overview(client)
        except BaseException:
            if owns:
                await client.aclose()
            raise
        return cls(client, overview, results_root=results_root, input_fps=input_fps, owns_client=owns)

    # -- what the server offers ---------------------------------------------------------

    @property
    def label(self) -> str:
        """How this server's numbers are labelled: SIMULATED or ``Scope <version>``."""
        return self.overview.source_label

    @property
    def choices(self) -> list[PipelineChoice]:
        """Every pipeline the server offers, in its order, for the picker."""
        return self._loader.choices

    def schema(self, pipeline_id: str) -> PipelineSchema:
        """A pipeline's schema as read at connect time (KeyError names the known ids)."""
        return self._loader.schema(pipeline_id)

    # -- listeners ----------------------------------------------------------------------

    def on_change(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` after every change of load or stream state or message."""
        self._change_listeners.append(callback)

    def on_frame(self, callback: Callable[[ReceivedFrame], None]) -> None:
        """Call ``callback(frame)`` with every received frame (in the receive loop)."""
        self._frame_listeners.append(callback)

    def _changed(self, message: str | None = None) -> None:
        if message is not None:
            self.message = message
            log.info("live: %s", message)
        for callback in self._change_listeners:
            callback()

    # -- loading ------------------------------------------------------------------------

    @property
    def load_status(self) -> LoadStatus:
        return self._loader.status

    @property
    def loaded(self) -> LoadedPipeline | None:
        return self._loader.loaded

    async def load(self, pipeline_id: str, mode: str | None = None, *, vace_enabled: bool = True) -> LoadResult:
        """Load a pipeline for ``mode`` (its default mode if None), downloading models if missing.

        Stops the running stream first. Raises what the client raises (each error says
        what to do) after setting the state to ``failed``; RuntimeError while another load runs.
        """
        plan = self._loader.plan(pipeline_id, mode, vace_enabled=vace_enabled)
        await self.stop()
        return await self._loader.run(plan)

    # -- streaming ----------------------------------------------------------------------

    @property
    def streaming(self) -> bool:
        """True while a session is open (False from the moment :meth:`stop` begins)."""
        return self._stream is not None and self.stream_state is StreamState.STREAMING

    async def start(self, choice: InputChoice | None, parameters: Mapping[str, Any], *,
                    upload: str | Path | None = None) -> VideoSource | None:
        """Open a session for the loaded pipeline; returns its input source (None in text mode).

        ``choice`` picks the input in video mode (ignored in text mode); ``parameters`` are
        the initial parameters (``prompts`` are left out for pipelines without prompts).
        A running stream is stopped first.
        """
        loaded = self._loader.require_loaded()
        await self.stop()
        source = open_input(loaded, choice, self.input_fps, upload=upload)
        self.stream_state = StreamState.STARTING
        self._changed(f"starting a {loaded.mode}-mode stream of {loaded.schema.id}")
        try:
            stream = await LiveStream.open(self.client, loaded, source, choice, parameters)
        except BaseException as exc:
            self.stream_state = StreamState.STOPPED
            self._changed(f"the stream did not start: {exc}")
            raise
        self._stream = stream
        self.stats = LiveStats()
        stream.session.on_frame(self._on_frame)
        stream.watcher = asyncio.get_running_loop().create_task(self._watch(stream))
        self.stream_state = StreamState.STREAMING
        self._changed(f"streaming {loaded.schema.id} ({loaded.mode} mode"
                      f"{', input: ' + choice if source and choice else ''}) [{self.label}]")
        return source

    async def stop(self, reason: str = "stream stopped") -> None:
        """Stop recording and close the session and its input (nothing happens when stopped).

        The pipeline stays loaded on the GPU (Scope 0.2.4 has no unload endpoint)."""
        stream, self._stream = self._stream, None
        if stream is None:
            return
        if self._saver.recording:
            self.stop_recording()
        try:
            await stream.close()
        finally:
            self.stream_state = StreamState.STOPPED
            self._changed(reason)

    async def _watch(self, stream: LiveStream) -> None:
        """Stop when the server ends ``stream`` (unless another stream replaced it by then)."""
        reason = await stream.ended()
        if self._stream is stream:
            await self.stop(f"stream ended: {reason}")

    def _on_frame(self, frame: ReceivedFrame) -> None:
        stream = self._stream
        self.stats.add(frame.complete_ns, stream.latency_ms(frame) if stream is not None else None)
        self.last_frame = frame
        self._saver.add(frame)
        for callback in self._frame_listeners:
            callback(frame)

    # -- parameters ---------------------------------------------------------------------

    async def update(self, wanted: Mapping[str, Any], transition: Transition = AT_ONCE) -> dict[str, Any]:
        """Send what differs between ``wanted`` and what the session was told; return what was sent.

        Nothing is sent (and ``{}`` returned) when nothing changed or nothing streams: the
        panel passes its current values again when the next stream starts.
        """
        if self._stream is None:
            return {}
        changes = await self._stream.send_changes(wanted, transition)
        if changes:
            self._changed(f"sent {', '.join(sorted(changes))}")
        return changes

    @property
    def parameters(self) -> dict[str, Any]:
        """What the current session was told so far (empty when not streaming)."""
        return self._stream.tracker.sent if self._stream else {}

    # -- reference images ---------------------------------------------------------------

    async def upload_reference(self, data: bytes, filename: str) -> AssetInfo:
        """Upload an image to the server's assets (for ``vace_ref_images``); returns it with its server path."""
        asset = await self.client.upload_asset(data, filename)
        self._changed(f"uploaded {asset.name} to the server's assets")
        return asset

    async def reference_images(self) -> list[AssetInfo]:
        """The image assets on the server, newest first."""
        assets = await self.client.assets("image")
        return sorted(assets, key=lambda a: a.created_at or 0.0, reverse=True)

    # -- saving -------------------------------------------------------------------------

    def snapshot(self, chart_svg: str) -> Path:
        """Save the newest frame, the figures and the chart; returns the PNG's path."""
        return self._saver.snapshot(self.last_frame, self.stats, chart_svg, stream_details(self.loaded, self._stream))

    @property
    def recording(self) -> bool:
        return self._saver.recording

    def start_recording(self) -> Path:
        """Record the output from the next frame on; returns the clip's path."""
        if self._stream is None:
            raise RuntimeError("Nothing is streaming: start a stream first.")
        return self._saver.start_clip()

    def stop_recording(self) -> ClipSummary:
        """Finish the clip and write its figures beside it."""
        return self._saver.finish_clip(stream_details(self.loaded, self._stream))

    # -- closing ------------------------------------------------------------------------

    async def close(self) -> None:
        """Stop the stream (and recording) and close the client if this controller opened it."""
        if self._closed:
            return
        self._closed = True
        try:
            await self.stop("panel closed")
        finally:
            _OPEN_CONTROLLERS.discard(self)
            if self._owns_client:
                await self.client.aclose()

    def close_at_exit(self) -> None:
        """Best effort without an event loop (interpreter exit): finish the clip, stop the
        input, and tell the server to drop the session (a plain HTTP DELETE)."""
        stream, self._stream = self._stream, None
        if self._saver.recording:
            with contextlib.suppress(Exception):
                self.stop_recording()
        if stream is not None:
            stream.drop_at_exit(self.client.url)


_OPEN_CONTROLLERS: weakref.WeakSet[LiveController] = weakref.WeakSet()


@atexit.register
def _close_all_at_exit() -> None:
    """A kernel shut down from JupyterLab exits normally: close what is still open."""
    for controller in list(_OPEN_CONTROLLERS):
        controller.close_at_exit()
