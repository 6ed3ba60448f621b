"""The live panel's logic, without widgets: load, stream, change parameters, measure, save.

:class:`LiveController` is what :class:`lab.live.panel.LivePanel` drives, and what tests
drive without a browser. It owns one WebRTC session at a time and one pipeline load at a
time:

- **load** (:meth:`LiveController.load`): ``idle`` → (``downloading`` when the models are
  missing) → ``loading`` (Scope's loading stages, as a fraction of its five known stages)
  → ``loaded`` or ``failed`` (with the client's explanation). A second load while one
  runs is refused; a load stops the running stream first. Scope 0.2.4 has no unload
  endpoint: loading another pipeline unloads the previous one (that is the *switch*), and
  :meth:`LiveController.stop` ends the stream and frees the kernel, not the GPU.
- **stream** (:meth:`LiveController.start` / :meth:`LiveController.stop`): opens a session
  for the loaded pipeline with an input (:mod:`lab.live.inputs`) in video mode, none in
  text mode; its initial parameters are the panel's prompts and controls. A server-side
  end (``stream_stopped``, track ended) is noticed and reported.
- **parameters** (:meth:`LiveController.update`): only what changed goes over the data
  channel, as one object (:class:`lab.live.controls.UpdateTracker`); a prompt change
  becomes a ``transition`` when transitions are on.
- **figures** (:attr:`LiveController.stats`): every received frame is counted; with the
  stamped test pattern through a pipeline that keeps the picture, its stamp gives the
  exact latency.
- **saving** (:meth:`snapshot`, :meth:`start_recording`, :meth:`stop_recording`) into
  :class:`lab.live.results.LiveResults`, labelled SIMULATED for the simulator.

Listeners registered with :meth:`on_change` are called after every state change, and
those registered with :meth:`on_frame` with every frame (in the receive loop: keep them
cheap). Everything runs on the event loop that called :meth:`connect`.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import enum
import logging
import time
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from lab.client import DownloadProgressEvent, LoadProgress, LoadResult, ScopeClient
from lab.connect import connect
from lab.errors import LabError, StreamStoppedError
from lab.live.controls import AT_ONCE, Transition, UpdateTracker, prompt_update
from lab.live.inputs import InputChoice, make_input
from lab.live.results import LIVE_RESULTS_DIR, ClipRecorder, ClipSummary, LiveResults
from lab.live.stats import LiveStats
from lab.stamp import decode_stamp
from lab.models import AssetInfo, PipelineSchema
from lab.overview import ServerOverview, server_overview
from lab.protocol import frontend_load_params
from lab.rtc import ReceivedFrame, RtcSession
from lab.sources import StampedSource, VideoSource
from lab.tasks import cancel_and_wait

__all__ = ["LiveController", "LoadState", "StreamState", "LoadStatus", "PipelineChoice", "LoadedPipeline",
           "LOADING_STAGES", "DEFAULT_INPUT_FPS"]

log = logging.getLogger(__name__)

DEFAULT_INPUT_FPS = 15.0
# The loading stages Scope 0.2.4 reports, in order. They only place
# the progress bar; an unknown stage (a newer Scope) leaves it where it was.
LOADING_STAGES = ("Initializing pipeline...", "Loading diffusion model...", "Loading text encoder...",
                  "Loading VAE...", "Warming up model...")


class LoadState(enum.Enum):
    """Where the pipeline load is."""

    IDLE = "idle"
    DOWNLOADING = "downloading models"
    LOADING = "loading"
    LOADED = "loaded"
    FAILED = "failed"


class StreamState(enum.Enum):
    """Where the WebRTC session is."""

    STOPPED = "stopped"
    STARTING = "starting"
    STREAMING = "streaming"


@dataclass(frozen=True)
class LoadStatus:
    """What the panel shows about the load: state, stage, progress (0-1) and a sentence."""

    state: LoadState = LoadState.IDLE
    pipeline_id: str | None = None
    stage: str | None = None
    progress: float = 0.0
    elapsed_s: float = 0.0
    message: str = "no pipeline loaded by this panel"


@dataclass(frozen=True)
class PipelineChoice:
    """One pipeline as the picker offers it, with what matters for choosing it."""

    schema: PipelineSchema
    vram_gb: float | None

    @property
    def id(self) -> str:
        return self.schema.id

    @property
    def fits(self) -> bool | None:
        """Whether its VRAM estimate fits this server's GPU (None when either is unknown)."""
        return self.schema.fits_vram(self.vram_gb)

    @property
    def label(self) -> str:
        """``longlive · VACE · ~20 GB · fits``: id, role, VACE, VRAM estimate, fit."""
        parts = [self.schema.id]
        if self.schema.usage:
            parts.append("/".join(self.schema.usage))
        if self.schema.supports_vace:
            parts.append("VACE")
        if self.schema.estimated_vram_gb is not None:
            parts.append(f"~{self.schema.estimated_vram_gb:g} GB")
            parts.append({True: "fits", False: "DOES NOT FIT", None: "GPU unknown"}[self.fits])
        return " · ".join(parts)


@dataclass(frozen=True)
class LoadedPipeline:
    """The pipeline this controller loaded: schema, mode, load parameters, load result."""

    schema: PipelineSchema
    mode: str
    load_params: dict[str, Any]
    result: LoadResult

    @property
    def size(self) -> tuple[int, int]:
        """``(width, height)`` of the stream (from the load parameters)."""
        return int(self.load_params["width"]), int(self.load_params["height"])


@dataclass
class _Stream:
    """One open session with its input and what was sent on it."""

    session: RtcSession
    source: VideoSource | None
    choice: InputChoice | None
    tracker: UpdateTracker
    read_stamps: bool
    watcher: asyncio.Task[None] | None = field(default=None, repr=False)


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
        self.results = LiveResults(results_root, {
            "source": overview.source_label, "simulated": overview.simulated, "url": overview.url,
            "server_version": overview.health.version, "server_git_commit": overview.health.git_commit,
            "vram_gb": overview.hardware.vram_gb})
        self.load_status = LoadStatus()
        self.stream_state = StreamState.STOPPED
        self.message = f"connected to {overview.url} [{overview.source_label}]"
        self.loaded: LoadedPipeline | None = None
        self.stats = LiveStats()
        self.last_frame: ReceivedFrame | None = None
        self._owns_client = owns_client
        self._stream: _Stream | None = None
        self._clip: ClipRecorder | None = None
        self._change_listeners: list[Callable[[], None]] = []
        self._frame_listeners: list[Callable[[ReceivedFrame], None]] = []
        self._load_started = 0.0
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
        vram = self.overview.hardware.vram_gb
        return [PipelineChoice(schema, vram) for schema in self.overview.schemas.pipelines.values()]

    def schema(self, pipeline_id: str) -> PipelineSchema:
        """A pipeline's schema as read at connect time (KeyError names the known ids)."""
        try:
            return self.overview.schemas.pipelines[pipeline_id]
        except KeyError:
            raise KeyError(f"{pipeline_id!r} is not offered by {self.overview.url}; it offers "
                           f"{', '.join(self.overview.schemas.ids)}") from None

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

    async def load(self, pipeline_id: str, mode: str | None = None, *, vace_enabled: bool = True) -> LoadResult:
        """Load a pipeline for ``mode`` (its default mode if None), downloading models if missing.

        Stops the running stream first. Raises what the client raises (each error says
        what to do) after setting the state to ``failed``; RuntimeError while another load runs.
        """
        if self.load_status.state in (LoadState.DOWNLOADING, LoadState.LOADING):
            raise RuntimeError(f"{self.load_status.pipeline_id} is still loading; wait for it to finish.")
        schema = self.schema(pipeline_id)
        mode = mode or schema.default_mode or schema.supported_modes[0]
        if mode not in schema.supported_modes:
            raise ValueError(f"{pipeline_id} supports {', '.join(schema.supported_modes)} mode, not {mode!r}.")
        params = frontend_load_params(schema, mode, vace_enabled=vace_enabled)
        await self.stop()
        self._load_started = time.perf_counter()
        loading = f"loading {pipeline_id} ({mode} mode)"
        self._set_load(LoadState.LOADING, pipeline_id, None, 0.0, loading)
        try:
            if schema.requires_models and not (await self.client.models_status(pipeline_id)).downloaded:
                self._set_load(LoadState.DOWNLOADING, pipeline_id, None, 0.0, f"downloading models of {pipeline_id}")
                await self.client.download_models(pipeline_id, on_progress=self._on_download_progress)
                self.overview.models[pipeline_id] = await self.client.models_status(pipeline_id)
                self._set_load(LoadState.LOADING, pipeline_id, None, 0.0, loading)
            result = await self.client.load_pipeline(pipeline_id, params, on_progress=self._on_load_progress)
        except LabError as exc:
            self._set_load(LoadState.FAILED, pipeline_id, self.load_status.stage, self.load_status.progress,
                           f"loading {pipeline_id} failed: {exc}")
            raise
        except asyncio.CancelledError:
            self._set_load(LoadState.IDLE, None, None, 0.0, f"stopped waiting for {pipeline_id} to load")
            raise
        self.loaded = LoadedPipeline(schema, mode, params, result)
        self._set_load(LoadState.LOADED, pipeline_id, None, 1.0,
                       f"{pipeline_id} loaded in {result.load_s:.1f} s ({mode} mode, "
                       f"{params['width']}x{params['height']}) [{self.label}]")
        return result

    def _set_load(self, state: LoadState, pipeline_id: str | None, stage: str | None, progress: float,
                  message: str) -> None:
        elapsed = time.perf_counter() - self._load_started if self._load_started else 0.0
        self.load_status = LoadStatus(state, pipeline_id, stage, progress, elapsed, message)
        self._changed(message)

    def _on_load_progress(self, progress: LoadProgress) -> None:
        stage = progress.stage
        fraction = self.load_status.progress
        if stage in LOADING_STAGES:
            fraction = (LOADING_STAGES.index(stage) + 1) / (len(LOADING_STAGES) + 1)
        text = f"loading {progress.pipeline_id}: {stage or progress.status} ({progress.elapsed_s:.1f} s)"
        self._set_load(LoadState.LOADING, progress.pipeline_id, stage, fraction, text)

    def _on_download_progress(self, event: DownloadProgressEvent) -> None:
        percent = event.percentage or 0.0
        text = f"downloading models of {event.pipeline_id}: {event.artifact or '...'} {percent:.0f} %"
        self._set_load(LoadState.DOWNLOADING, event.pipeline_id, event.artifact, percent / 100, text)

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
        loaded = self._require_loaded()
        await self.stop()
        source = None
        if loaded.mode == "video":
            source = make_input(choice or "pattern", *loaded.size, self.input_fps, upload=upload)
        initial = {k: v for k, v in parameters.items() if k != "prompts" or loaded.schema.supports_prompts}
        self.stream_state = StreamState.STARTING
        self._changed(f"starting a {loaded.mode}-mode stream of {loaded.schema.id}")
        try:
            session = await RtcSession.open(self.client, [loaded.schema.id], source=source, mode=loaded.mode,
                                            parameters=initial)
        except BaseException as exc:
            if source is not None:
                source.stop()
            self.stream_state = StreamState.STOPPED
            self._changed(f"the stream did not start: {exc}")
            raise
        read_stamps = isinstance(source, StampedSource) and not loaded.schema.is_generative
        self._stream = _Stream(session, source, choice if source else None, UpdateTracker(initial), read_stamps)
        self.stats = LiveStats()
        session.on_frame(self._on_frame)
        self._stream.watcher = asyncio.get_running_loop().create_task(self._watch(self._stream))
        self.stream_state = StreamState.STREAMING
        self._changed(f"streaming {loaded.schema.id} ({loaded.mode} mode"
                      f"{', input: ' + choice if source and choice else ''}) [{self.label}]")
        return source

    async def stop(self, reason: str = "stream stopped") -> None:
        """Stop recording and close the session and its input (nothing happens when stopped)."""
        stream, self._stream = self._stream, None
        if stream is None:
            return
        if self._clip is not None:
            self.stop_recording()
        if stream.watcher is not None and stream.watcher is not asyncio.current_task():
            await cancel_and_wait(stream.watcher)
        try:
            await stream.session.close()
        finally:
            if stream.source is not None:
                stream.source.stop()
            self.stream_state = StreamState.STOPPED
            self._changed(reason)

    async def _watch(self, stream: _Stream) -> None:
        """Notice when the server ends the stream (``stream_stopped`` or the track ending)."""
        try:
            async for _ in stream.session.frames():
                pass
            reason = "the server ended the output track"
        except StreamStoppedError as exc:
            reason = str(exc)
        if self._stream is stream:
            await self.stop(f"stream ended: {reason}")

    def _on_frame(self, frame: ReceivedFrame) -> None:
        stream = self._stream
        latency_ms = None
        if stream is not None and stream.read_stamps and stream.source is not None:
            frame_id = decode_stamp(frame.frame).frame_id
            index = None if frame_id is None else frame_id - stream.source.start_id
            if index is not None and 0 <= index < len(stream.source.records):
                latency_ms = (frame.complete_ns - stream.source.records[index].sent_ns) / 1e6
        self.stats.add(frame.complete_ns, latency_ms)
        self.last_frame = frame
        if self._clip is not None:
            self._clip.add(frame.frame, frame.complete_ns)
        for callback in self._frame_listeners:
            callback(frame)

    # -- parameters ---------------------------------------------------------------------

    async def update(self, wanted: Mapping[str, Any], transition: Transition = AT_ONCE) -> dict[str, Any]:
        """Send what differs between ``wanted`` and what the session was told; return what was sent.

        Nothing is sent (and ``{}`` returned) when nothing changed or nothing streams: the
        panel passes its current values again when the next stream starts.
        """
        stream = self._stream
        if stream is None:
            return {}
        changes = stream.tracker.changes(wanted)
        if "prompts" in changes:
            changes.update(prompt_update(changes.pop("prompts"), transition))
        if changes:
            await stream.session.send(changes)
            stream.tracker.mark_sent(changes)
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

    def _details(self) -> dict[str, Any]:
        loaded = self.loaded
        return {
            "pipeline_id": loaded.schema.id if loaded else None,
            "mode": loaded.mode if loaded else None,
            "load_params": loaded.load_params if loaded else None,
            "input": self._stream.choice if self._stream else None,
            "parameters": self.parameters,
        }

    def snapshot(self, chart_svg: str) -> Path:
        """Save the newest frame, the figures and the chart; returns the PNG's path."""
        if self.last_frame is None:
            raise RuntimeError("No frame has arrived yet: start a stream first.")
        path = self.results.snapshot(self.last_frame.frame, self.stats.figures(), self.stats.history,
                                     chart_svg, self._details())
        self._changed(f"saved {path}")
        return path

    @property
    def recording(self) -> bool:
        return self._clip is not None

    def start_recording(self) -> Path:
        """Record the output from the next frame on; returns the clip's path."""
        if self._stream is None:
            raise RuntimeError("Nothing is streaming: start a stream first.")
        if self._clip is None:
            self._clip = self.results.start_clip()
            self._changed(f"recording to {self._clip.path}")
        return self._clip.path

    def stop_recording(self) -> ClipSummary:
        """Finish the clip and write its figures beside it."""
        if self._clip is None:
            raise RuntimeError("Not recording.")
        clip, self._clip = self._clip, None
        summary = self.results.finish_clip(clip, self._details())
        self._changed(f"saved {summary.path} ({summary.frames} frames, {summary.dropped} dropped)")
        return summary

    # -- closing ------------------------------------------------------------------------

    def _require_loaded(self) -> LoadedPipeline:
        if self.loaded is None or self.load_status.state is not LoadState.LOADED:
            raise RuntimeError("No pipeline is loaded by this panel: load one first.")
        return self.loaded

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
        if self._clip is not None:
            with contextlib.suppress(Exception):
                self.stop_recording()
        if stream is None:
            return
        if stream.source is not None:
            stream.source.stop()
        if stream.session.session_id is not None:
            with contextlib.suppress(httpx.HTTPError):
                httpx.delete(f"{self.client.url}/api/v1/webrtc/offer/{stream.session.session_id}", timeout=3.0)


_OPEN_CONTROLLERS: weakref.WeakSet[LiveController] = weakref.WeakSet()


@atexit.register
def _close_all_at_exit() -> None:
    """A kernel shut down from JupyterLab exits normally: close what is still open."""
    for controller in list(_OPEN_CONTROLLERS):
        controller.close_at_exit()
