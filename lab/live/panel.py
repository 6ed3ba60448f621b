"""The live panel: ipywidgets wired to a :class:`~lab.live.controller.LiveController`.

:class:`LivePanel` is the panel's widgets (:mod:`lab.live.layout`) with its steering wired
(:mod:`lab.live.steering`: prompt, runtime controls, references); this module adds the
load, start and stop buttons, the input, snapshots and recording, and the panel's life.
What the widgets do lives in the controller (loading, streaming, parameters, figures,
saving), what they show in :mod:`lab.live.display`, the live image in
:mod:`lab.live.view` and the webcam and presence check in :mod:`lab.live.browser`.

Every action runs as a task on the kernel's event loop (see :mod:`lab.live.steering`). The
stream keeps running between cells: the live image and the figures update while the
notebook is idle or busy with other cells' awaits.

Clean-up: panels are kept in a registry by ``key``, so running the panel's cell again
closes the previous panel (and its session) first; :meth:`LivePanel.close` closes it
explicitly; when no view of the panel has been on screen for a while (the notebook was
closed, the kernel kept running) the stream is stopped; when the kernel shuts down, the
controller's exit hook tells the server to drop the session.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import tempfile
from pathlib import Path
from typing import Any

import ipywidgets as widgets
from IPython import get_ipython

from lab.errors import LabError
from lab.live.controller import DEFAULT_INPUT_FPS, LiveController
from lab.live.display import show_figures, show_pipeline_info, show_state
from lab.live.inputs import PushedSource
from lab.live.results import LIVE_RESULTS_DIR
from lab.live.steering import SteeringPanel
from lab.live.view import DEFAULT_MAX_FPS, FrameView, chart_svg
from lab.sources import VideoSource
from lab.tasks import cancel_and_wait

__all__ = ["LivePanel", "DEFAULT_KEY"]

log = logging.getLogger(__name__)

DEFAULT_KEY = "live"
TICK_S = 0.5  # figures, chart and the presence check, twice a second
_PANELS: dict[str, LivePanel] = {}


class LivePanel(SteeringPanel):
    """A control panel and live view for one Scope server, displayed in a notebook.

    Create it with :meth:`open` and show it as a cell's last expression::

        from lab.live import LivePanel
        panel = await LivePanel.open("sim")
        panel

    Attributes
    ----------
    controller:
        The logic behind the widgets (usable from code: ``await panel.controller.load(...)``).
    widget:
        The panel's top-level widget.
    view:
        The live image's :class:`~lab.live.view.FrameView` (``view.shown`` counts frames shown).
    """

    def __init__(self, controller: LiveController, *, key: str = DEFAULT_KEY,
                 max_view_fps: float = DEFAULT_MAX_FPS) -> None:
        super().__init__(controller)
        self.key = key
        self._uploads = Path(tempfile.mkdtemp(prefix="lab-live-uploads-"))
        self._upload_path: Path | None = None
        self.view = FrameView(self.image, max_fps=max_view_fps)
        self._wire()
        self._on_pipeline_picked()
        controller.on_change(self._refresh)
        controller.on_frame(lambda frame: self.view.offer(frame.frame))
        self._ticker = self._loop.create_task(self._tick())
        self._follow_cells(register=True)
        self._spawn(self._refresh_references(), "reading the server's reference images")
        self._refresh()

    @classmethod
    async def open(cls, target: str = "sim", *, key: str = DEFAULT_KEY, results_dir: Path | str = LIVE_RESULTS_DIR,
                   input_fps: float = DEFAULT_INPUT_FPS, max_view_fps: float = DEFAULT_MAX_FPS) -> LivePanel:
        """Connect to ``target`` and build the panel; a previous panel with the same ``key`` is closed first.

        Parameters
        ----------
        target:
            URL, RunPod pod id, or ``"sim"`` (the built-in simulator).
        key:
            Panels with different keys live side by side; the same key replaces.
        results_dir:
            Where snapshot and clip folders go.
        input_fps:
            Frame rate of the input sent in video mode.
        max_view_fps:
            Upper bound of the live image's rate (it follows the stream below that).
        """
        previous = _PANELS.pop(key, None)
        if previous is not None:
            await previous.close()
        controller = await LiveController.connect(target, results_root=results_dir, input_fps=input_fps)
        panel = cls(controller, key=key, max_view_fps=max_view_fps)
        _PANELS[key] = panel
        return panel

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)

    def _wire(self) -> None:
        self.pipeline.observe(lambda _: self._on_pipeline_picked(), "value")
        self.load_button.on_click(lambda _: self._spawn(self._load_and_start(), "loading"))
        self.start_button.on_click(lambda _: self._spawn(self._start(), "starting the stream"))
        self.stop_button.on_click(lambda _: self._spawn(self.controller.stop(), "stopping the stream"))
        self.source.observe(lambda _: self._restart_if_streaming(), "value")
        self.clip_upload.observe(lambda _: self._take_clip_upload(), "value")
        self.snapshot_button.on_click(lambda _: self._save_snapshot())
        self.record_button.observe(lambda change: self._toggle_recording(change["new"]), "value")
        self.view_toggle.observe(lambda change: setattr(self.view, "enabled", change["new"]), "value")
        self.webcam.observe(lambda change: self.show_error(change["new"]) if change["new"] else None, "error")

    def _follow_cells(self, *, register: bool) -> None:
        """Tell the presence check when cells run (in IPython; elsewhere there are no cells)."""
        shell = get_ipython()
        if shell is None:
            return
        hooks = (("pre_run_cell", self.presence.kernel_busy), ("post_run_cell", self.presence.kernel_idle))
        for event, callback in hooks:
            if register:
                shell.events.register(event, callback)
            else:
                with contextlib.suppress(ValueError):
                    shell.events.unregister(event, callback)

    # -- pipeline and load --------------------------------------------------------------

    def _on_pipeline_picked(self) -> None:
        schema = self.controller.schema(self.pipeline.value)
        self.mode.options = schema.supported_modes
        modes = schema.supported_modes
        self.mode.value = schema.default_mode if schema.default_mode in modes else modes[0]
        self.vace.disabled = not schema.supports_vace
        self.vace.value = schema.supports_vace
        show_pipeline_info(self, self.controller)
        self._rebuild_controls()

    async def _load_and_start(self) -> None:
        self.problem.value = ""
        await self.controller.load(self.pipeline.value, self.mode.value, vace_enabled=self.vace.value)
        await self._start()

    async def _start(self) -> None:
        self.problem.value = ""
        self.webcam.active = False
        source = await self.controller.start(self.source.value, self._initial_parameters(), upload=self._upload_path)
        self._attach_webcam(source)

    def _attach_webcam(self, source: VideoSource | None) -> None:
        """Feed the browser's camera into the stream when the webcam is the input."""
        if isinstance(source, PushedSource):
            self.webcam.width, self.webcam.height, self.webcam.fps = source.width, source.height, source.fps
            self.webcam.sink = source.push_jpeg
            self.webcam.active = True
        else:
            self.webcam.sink = None

    def _restart_if_streaming(self) -> None:
        if self.controller.streaming and self.controller.loaded and self.controller.loaded.mode == "video":
            self._spawn(self._start(), "switching the input")

    # -- input -------------------------------------------------------------------------

    def _take_clip_upload(self) -> None:
        if not self.clip_upload.value:
            return
        item = self.clip_upload.value[0]
        path = self._uploads / Path(item["name"]).name
        path.write_bytes(bytes(item["content"]))
        self._upload_path = path
        self.controller.message = f"clip {path.name} uploaded ({path.stat().st_size / 1e6:.1f} MB)"
        if self.source.value == "upload":
            self._restart_if_streaming()
        else:
            self.source.value = "upload"  # restarts a running video stream with it
        self._refresh()

    # -- saving -------------------------------------------------------------------------

    def _save_snapshot(self) -> None:
        try:
            path = self.controller.snapshot(chart_svg(self.controller.stats.history, label=self.controller.label))
        except RuntimeError as exc:
            self.show_error(str(exc))
            return
        self.saved.value = f"saved {path} (+ .json, .svg, .csv)"

    def _toggle_recording(self, on: bool) -> None:
        try:
            if on and not self.controller.recording:
                self.saved.value = f"recording to {self.controller.start_recording()}"
            elif not on and self.controller.recording:
                summary = self.controller.stop_recording()
                self.saved.value = f"saved {summary.path} ({summary.frames} frames, + .csv, .json)"
        except (RuntimeError, OSError, LabError) as exc:
            self.show_error(str(exc))
            self.record_button.value = self.controller.recording

    # -- display ------------------------------------------------------------------------

    def _refresh(self) -> None:
        """Mirror the controller's state in the widgets (after every change it reports)."""
        show_state(self, self.controller)

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(TICK_S)
            c = self.controller
            if c.streaming:
                show_figures(self, c)
            if c.streaming and self.presence.abandoned():
                self._spawn(c.stop("stream stopped: no view of the panel is on screen (notebook closed?)"),
                            "stopping the stream")

    async def close(self) -> None:
        """Stop the stream and recording, close every widget and forget the panel."""
        if _PANELS.get(self.key) is self:
            del _PANELS[self.key]
        self._ticker.cancel()
        await cancel_and_wait(self._ticker, *self._tasks)
        await self.view.close()
        self._follow_cells(register=False)
        self.webcam.active = False
        self.webcam.sink = None
        await self.controller.close()
        for widget in _descendants(self.widget):
            widget.close()
        shutil.rmtree(self._uploads, ignore_errors=True)


def _descendants(widget: widgets.Widget) -> list[widgets.Widget]:
    children = getattr(widget, "children", ())
    return [widget, *[w for child in children for w in _descendants(child)]]
