"""The live panel: ipywidgets wired to a :class:`~lab.live.controller.LiveController`.

This module only builds widgets and connects them; what they do lives in the controller
(loading, streaming, parameters, figures, saving), :mod:`lab.live.view` (the live image
and the chart) and :mod:`lab.live.browser` (webcam, presence).

Widget callbacks are synchronous and run on the kernel's event loop between cells, so
every action is scheduled as a task on that loop (kept in a set until done; a failure is
shown in the status line, not lost). The stream keeps running between cells: the live
image and the figures update while the notebook is idle or busy with other cells' awaits.

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
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import ipywidgets as widgets
from IPython import get_ipython

from lab.errors import LabError
from lab.live.browser import Presence, Webcam
from lab.live.controller import (
    DEFAULT_INPUT_FPS,
    LiveController,
    LoadState,
    PipelineChoice,
)
from lab.live.controls import (
    ControlSpec,
    Transition,
    parse_steps,
    prompt_items,
    runtime_controls,
)
from lab.live.inputs import INPUT_LABELS, PushedSource
from lab.live.results import LIVE_RESULTS_DIR
from lab.live.stats import LiveFigures
from lab.live.view import DEFAULT_MAX_FPS, FrameView, chart_svg, placeholder_jpeg
from lab.sources import VideoSource
from lab.tasks import cancel_and_wait

__all__ = ["LivePanel", "DEFAULT_KEY", "DEFAULT_PROMPT"]

log = logging.getLogger(__name__)

DEFAULT_KEY = "live"
DEFAULT_PROMPT = "a lighthouse on a rocky coast at dusk, waves crashing"
TICK_S = 0.5  # figures, chart and the presence check, twice a second
_PANELS: dict[str, LivePanel] = {}


class LivePanel:
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
        self.controller = controller
        self.key = key
        self._loop = asyncio.get_running_loop()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._controls: dict[str, tuple[ControlSpec, widgets.Widget]] = {}
        self._touched: set[str] = set()
        self._uploads = Path(tempfile.mkdtemp(prefix="lab-live-uploads-"))
        self._upload_path: Path | None = None
        self._build()
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

    # -- building -----------------------------------------------------------------------

    def _build(self) -> None:
        c = self.controller
        label = c.label
        colour = "#c00" if c.overview.simulated else "#060"
        self.header = widgets.HTML(
            f"<b>Live exploration</b> · {c.overview.url} · Scope {c.overview.health.version} · "
            f"<span style='color:{colour};font-weight:bold'>{label}</span>")
        choices = c.choices
        self.pipeline = _tagged(widgets.Dropdown(
            options=[(p.label, p.id) for p in choices], value=_first_generative(choices), description="pipeline",
            layout=widgets.Layout(width="380px")), "pipeline")
        self.mode = _tagged(widgets.Dropdown(description="mode", layout=widgets.Layout(width="160px")), "mode")
        self.vace = _tagged(widgets.Checkbox(value=True, description="load VACE", indent=False,
                                             layout=widgets.Layout(width="100px")), "vace")
        self.load_button = _tagged(widgets.Button(description="Load", button_style="primary", icon="upload"), "load")
        self.start_button = _tagged(widgets.Button(description="Start", icon="play",
                                                   tooltip="stream the loaded pipeline again"), "start")
        self.stop_button = _tagged(widgets.Button(description="Stop", icon="stop"), "stop")
        self.pipeline_info = _tagged(widgets.HTML(), "pipeline-info")
        self.progress = _tagged(widgets.FloatProgress(min=0.0, max=1.0, description="load"), "progress")
        self.stage = _tagged(widgets.Label(), "stage")

        self.image = _tagged(widgets.Image(value=placeholder_jpeg(), format="jpeg",
                                           layout=widgets.Layout(max_width="576px")), "image")
        self.fps = _tagged(widgets.Label("– fps", layout=widgets.Layout(width="90px"),
                                         style={"font_weight": "bold"}), "fps")
        self.figures = _tagged(widgets.HTML(), "figures")
        self.chart = _tagged(widgets.HTML(), "chart")
        self.view_toggle = _tagged(widgets.Checkbox(value=True, description="live view", indent=False,
                                                    layout=widgets.Layout(width="90px")), "view-toggle")
        self.snapshot_button = _tagged(widgets.Button(description="Snapshot", icon="camera"), "snapshot")
        self.record_button = _tagged(widgets.ToggleButton(description="Record", icon="circle"), "record")
        self.saved = _tagged(widgets.Label(), "saved")

        self.prompt = _tagged(widgets.Text(value=DEFAULT_PROMPT, continuous_update=False, description="prompt",
                                           layout=widgets.Layout(width="100%")), "prompt")
        self.prompt_weight = _slider("weight", 1.0, 0.0, 1.0, 0.05)
        self.blend = _tagged(widgets.Text(value="", continuous_update=False, description="blend with",
                                          placeholder="a second prompt (optional)",
                                          layout=widgets.Layout(width="100%")), "blend")
        self.blend_weight = _slider("weight", 0.5, 0.0, 1.0, 0.05)
        self.transition = widgets.Checkbox(value=False, description="smooth transition", indent=False)
        self.transition_steps = widgets.BoundedIntText(value=4, min=1, max=32, description="chunks",
                                                       layout=widgets.Layout(width="140px"))
        self.transition_method = widgets.Dropdown(options=["linear", "slerp"], value="linear",
                                                  layout=widgets.Layout(width="90px"))
        self.send_button = _tagged(widgets.Button(description="Send prompt", button_style="info",
                                                  icon="paper-plane"), "send")
        self.controls_box = _tagged(widgets.VBox(), "controls")

        self.refs_upload = _tagged(widgets.FileUpload(accept="image/*", multiple=True, description="upload images"),
                                   "ref-upload")
        self.refs = _tagged(widgets.SelectMultiple(rows=4, description="references"), "refs")
        self.refs_send = _tagged(widgets.Button(description="Send references"), "refs-send")
        self.refs_box = widgets.VBox([_heading("VACE reference images (sent once per press; Scope "
                                               "applies them to one chunk)"),
                                      widgets.HBox([self.refs_upload, self.refs_send]), self.refs])

        self.source = _tagged(widgets.Dropdown(options=[(text, key) for key, text in INPUT_LABELS.items()],
                                               value="pattern", description="input"), "source")
        self.clip_upload = _tagged(widgets.FileUpload(accept="video/*,.mp4,.webm,.mov,.mkv", multiple=False,
                                                      description="upload clip"), "clip-upload")
        self.webcam = Webcam(fps=c.input_fps)
        self.webcam.add_class("lab-live-webcam")
        self.input_box = widgets.VBox([_heading("Input (video mode)"), self.source, self.clip_upload, self.webcam])

        self.status = _tagged(widgets.HTML(), "status")
        self.problem = _tagged(widgets.HTML(), "problem")
        self.presence = Presence()

        figures = widgets.HBox([self.fps, self.figures], layout=widgets.Layout(align_items="center"))
        live = widgets.VBox([self.image, figures, self.chart,
                             widgets.HBox([self.view_toggle, self.snapshot_button, self.record_button]), self.saved],
                            layout=widgets.Layout(width="600px"))
        steering = widgets.VBox([
            _heading("Prompt (Enter or the button sends it)"), self.prompt, self.prompt_weight, self.blend,
            self.blend_weight, widgets.HBox([self.transition, self.transition_steps, self.transition_method]),
            self.send_button, _heading("Runtime controls (sent as you change them)"), self.controls_box,
            self.refs_box, self.input_box,
        ], layout=widgets.Layout(flex="1 1 360px"))
        self.widget = _tagged(widgets.VBox([
            self.header,
            widgets.HBox([self.pipeline, self.mode, self.vace, self.load_button, self.start_button, self.stop_button]),
            self.pipeline_info,
            widgets.HBox([self.progress, self.stage]),
            widgets.HBox([live, steering]),
            self.status,
            self.problem,
            self.presence,
        ]), "panel")

    def _wire(self) -> None:
        self.pipeline.observe(lambda _: self._on_pipeline_picked(), "value")
        self.mode.observe(lambda _: self._rebuild_controls(), "value")
        self.load_button.on_click(lambda _: self._spawn(self._load_and_start(), "loading"))
        self.start_button.on_click(lambda _: self._spawn(self._start(), "starting the stream"))
        self.stop_button.on_click(lambda _: self._spawn(self.controller.stop(), "stopping the stream"))
        self.send_button.on_click(lambda _: self._send_prompt())
        for widget in (self.prompt, self.prompt_weight, self.blend, self.blend_weight):
            widget.observe(lambda _: self._send_prompt(), "value")
        self.refs_upload.observe(lambda _: self._spawn(self._upload_references(), "uploading images"), "value")
        self.refs_send.on_click(lambda _: self._send({"vace_ref_images": list(self.refs.value)}))
        self.source.observe(lambda _: self._restart_if_streaming(), "value")
        self.clip_upload.observe(lambda _: self._take_clip_upload(), "value")
        self.snapshot_button.on_click(lambda _: self._save_snapshot())
        self.record_button.observe(lambda change: self._toggle_recording(change["new"]), "value")
        self.view_toggle.observe(lambda change: setattr(self.view, "enabled", change["new"]), "value")
        self.webcam.observe(lambda change: self._show_error(change["new"]) if change["new"] else None, "error")

    # -- tasks --------------------------------------------------------------------------

    def _spawn(self, coroutine: Coroutine[Any, Any, Any], what: str) -> None:
        task = self._loop.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(lambda done: self._finished(done, what))

    def _finished(self, task: asyncio.Task[Any], what: str) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            log.info("live panel: %s failed", what, exc_info=exc)
            self._show_error(f"{what} failed: {exc}")

    def _show_error(self, text: str) -> None:
        """Show a problem until the next load or start (the status line moves on)."""
        self.problem.value = f"<span style='color:#c00'>⚠ {_escape(text)}</span>"

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
        self._show_pipeline_info()
        self._rebuild_controls()

    def _show_pipeline_info(self) -> None:
        choice = next(p for p in self.controller.choices if p.id == self.pipeline.value)
        self.pipeline_info.value = _pipeline_info(choice, self.controller)

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

    # -- parameters ---------------------------------------------------------------------

    def _rebuild_controls(self) -> None:
        if not self.mode.value:
            return
        schema = self.controller.schema(self.pipeline.value)
        for old in self.controls_box.children:
            old.close()
        self._controls = {spec.key: (spec, _control_widget(spec)) for spec in runtime_controls(schema, self.mode.value)}
        self._touched.clear()
        for key, (_, widget) in self._controls.items():
            widget.observe(lambda _, key=key: self._control_changed(key), "value")
        rows: list[widgets.Widget] = [widget for _, widget in self._controls.values()]
        if (schema.model_extra or {}).get("supports_cache_management"):
            reset = widgets.Button(description="Reset cache")
            reset.on_click(lambda _: self._send({"reset_cache": True}))
            rows.append(reset)
        if not rows:
            rows.append(widgets.Label(f"{schema.id} offers no runtime controls in {self.mode.value} mode"))
        self.controls_box.children = rows
        prompts = schema.supports_prompts
        for widget in (self.prompt, self.prompt_weight, self.blend, self.blend_weight, self.transition,
                       self.transition_steps, self.transition_method, self.send_button):
            widget.disabled = not prompts
        extras = schema.model_extra or {}
        self.transition_method.value = extras.get("default_temporal_interpolation_method") or "linear"
        self.refs_box.layout.display = None if schema.supports_vace else "none"
        self.input_box.layout.display = None if self.mode.value == "video" else "none"

    def _control_value(self, key: str) -> Any:
        spec, widget = self._controls[key]
        return parse_steps(widget.value) if spec.kind == "steps" else widget.value

    def _control_changed(self, key: str) -> None:
        self._touched.add(key)
        try:
            value = self._control_value(key)
        except ValueError as exc:
            self._show_error(str(exc))
            return
        self._send({key: value})

    def _prompts(self) -> list[dict[str, Any]]:
        return prompt_items([(self.prompt.value, self.prompt_weight.value),
                             (self.blend.value, self.blend_weight.value)])

    def _initial_parameters(self) -> dict[str, Any]:
        parameters: dict[str, Any] = {"prompts": self._prompts()}
        for key, (spec, _) in self._controls.items():
            if spec.sent_at_start or key in self._touched:
                with contextlib.suppress(ValueError):  # a bad steps text: the server default applies
                    parameters[key] = self._control_value(key)
        return parameters

    def _send_prompt(self) -> None:
        transition = Transition(self.transition.value, self.transition_steps.value, self.transition_method.value)
        self._spawn(self.controller.update({"prompts": self._prompts()}, transition), "sending the prompt")

    def _send(self, parameters: dict[str, Any]) -> None:
        self._spawn(self.controller.update(parameters), f"sending {', '.join(parameters)}")

    # -- reference images and uploads ---------------------------------------------------

    async def _upload_references(self) -> None:
        for item in self.refs_upload.value:
            await self.controller.upload_reference(bytes(item["content"]), item["name"])
        await self._refresh_references()

    async def _refresh_references(self) -> None:
        selected = set(self.refs.value)
        assets = await self.controller.reference_images()
        self.refs.options = [(Path(asset.path).name, asset.path) for asset in assets]
        self.refs.value = tuple(asset.path for asset in assets if asset.path in selected)

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
            self._show_error(str(exc))
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
            self._show_error(str(exc))
            self.record_button.value = self.controller.recording

    # -- display ------------------------------------------------------------------------

    def _refresh(self) -> None:
        """Mirror the controller's state in the widgets (after every change it reports)."""
        c = self.controller
        load = c.load_status
        busy = load.state in (LoadState.DOWNLOADING, LoadState.LOADING)
        self.progress.value = load.progress
        self.progress.bar_style = {LoadState.FAILED: "danger", LoadState.LOADED: "success"}.get(load.state, "info")
        self.stage.value = load.message
        self.load_button.disabled = busy
        self.start_button.disabled = busy or c.loaded is None or load.state is not LoadState.LOADED
        self.stop_button.disabled = not c.streaming
        self.record_button.disabled = not c.streaming
        if self.record_button.value != c.recording:
            self.record_button.value = c.recording
        if not c.streaming:
            self.webcam.active = False
            self.fps.value = "– fps"
        self.status.value = _escape(c.message)
        self._show_pipeline_info()  # models may have been downloaded since

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(TICK_S)
            c = self.controller
            if c.streaming:
                figures = c.stats.sample()
                self.fps.value = f"{figures.fps:.1f} fps"
                webcam_frames = self.webcam.received if self.webcam.active else None
                self.figures.value = _figures_html(figures, c.label, webcam_frames)
                self.chart.value = chart_svg(c.stats.history, label=c.label)
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


def _tagged(widget: Any, name: str) -> Any:
    """``widget`` with the CSS class ``lab-live-<name>`` (for styling and browser tests)."""
    widget.add_class(f"lab-live-{name}")
    return widget


def _slider(description: str, value: float, low: float, high: float, step: float) -> widgets.FloatSlider:
    return widgets.FloatSlider(value=value, min=low, max=high, step=step, description=description,
                               continuous_update=False, readout_format=".2f")


def _heading(text: str) -> widgets.HTML:
    return widgets.HTML(f"<b>{_escape(text)}</b>")


def _control_widget(spec: ControlSpec) -> widgets.Widget:
    """The widget for one runtime control (updates only on release or Enter, not while dragging)."""
    if spec.kind == "bool":
        return widgets.Checkbox(value=bool(spec.default), description=spec.label, indent=False)
    if spec.kind == "steps":
        return widgets.Text(value=", ".join(str(s) for s in spec.default), description=spec.label,
                            continuous_update=False, style={"description_width": "initial"})
    slider = widgets.IntSlider if spec.kind == "int" else widgets.FloatSlider
    return slider(value=spec.default, min=spec.minimum, max=spec.maximum, step=spec.step, description=spec.label,
                  continuous_update=False, style={"description_width": "initial"})


def _first_generative(choices: list[PipelineChoice]) -> str:
    """The picker's first value: the first generative pipeline that fits, else the first."""
    fitting = [p for p in choices if p.schema.is_generative and p.fits is not False]
    return (fitting or choices)[0].id


def _pipeline_info(choice: PipelineChoice, controller: LiveController) -> str:
    schema = choice.schema
    sizes = ", ".join(f"{mode} {r[1]}x{r[0]}" for mode in schema.supported_modes if (r := schema.resolution(mode)))
    models = controller.overview.models.get(schema.id)
    vram = controller.overview.hardware.vram_gb
    fit = {True: "fits", False: "<b style='color:#c00'>does not fit</b>", None: "fit unknown"}[choice.fits]
    facts = [
        f"modes: {'/'.join(schema.supported_modes)} (default {schema.default_mode}); size {sizes or '-'}",
        f"VACE: {'yes' if schema.supports_vace else 'no'}; prompts: {'yes' if schema.supports_prompts else 'no'}",
        ("no VRAM estimate (Scope registers it without CUDA)" if schema.estimated_vram_gb is None else
         f"est. VRAM {schema.estimated_vram_gb:g} GB, this pod {'no CUDA' if vram is None else f'{vram:g} GB'}: {fit}"),
        "models: " + ("-" if models is None else
                      "downloaded" if models.downloaded else "missing (Load downloads them)"),
    ]
    return f"<small>{_escape(schema.description or '')}<br>{' · '.join(facts)}</small>"


def _figures_html(figures: LiveFigures, label: str, webcam_frames: int | None) -> str:
    def ms(value: float | None) -> str:
        return "–" if value is None else f"{value:.0f} ms"

    parts = [f"interval p50 {ms(figures.interval_p50_ms)}, max {ms(figures.interval_max_ms)}",
             f"latency p50 {ms(figures.latency_p50_ms)}" if figures.latency_n else
             "latency – (stamped pattern, picture-keeping pipeline only)",
             f"{figures.frames} frames"]
    if webcam_frames is not None:
        parts.append(f"webcam frames in: {webcam_frames}")
    return f"<small>{' · '.join(parts)} · <b>{label}</b></small>"


def _descendants(widget: widgets.Widget) -> list[widgets.Widget]:
    children = getattr(widget, "children", ())
    return [widget, *[w for child in children for w in _descendants(child)]]


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
