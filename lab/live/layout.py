"""The live panel's widgets and how they are laid out, without behaviour.

:class:`PanelLayout` builds every widget of the panel from what the server offers, and
shows the controls of the picked pipeline and mode; :class:`lab.live.panel.LivePanel`
wires them to a controller. Each widget a person works with carries the CSS class
``lab-live-<name>`` (for styling and the browser tests).
"""

from __future__ import annotations

import html
from typing import TypeVar

import ipywidgets as widgets

from lab.live.browser import Presence, Webcam
from lab.live.controls import ControlSpec
from lab.live.inputs import INPUT_LABELS
from lab.live.loading import PipelineChoice
from lab.live.view import placeholder_jpeg
from lab.models import PipelineSchema
from lab.overview import ServerOverview

__all__ = ["PanelLayout", "control_widget", "DEFAULT_PROMPT"]

DEFAULT_PROMPT = "a lighthouse on a rocky coast at dusk, waves crashing"
W = TypeVar("W", bound=widgets.DOMWidget)


class PanelLayout:
    """Every widget of the panel, as attributes; :attr:`widget` holds them all."""

    def __init__(self, overview: ServerOverview, choices: list[PipelineChoice], input_fps: float) -> None:
        colour = "#c00" if overview.simulated else "#060"
        self.header = widgets.HTML(
            f"<b>Live exploration</b> · {overview.url} · Scope {overview.health.version} · "
            f"<span style='color:{colour};font-weight:bold'>{overview.source_label}</span>")
        load_row = self._build_load_row(choices)
        live = self._build_live_view()
        steering = widgets.VBox([*self._build_prompt(), _heading("Runtime controls (sent as you change them)"),
                                 self.controls_box, self._build_references(), self._build_input(input_fps)],
                                layout=widgets.Layout(flex="1 1 360px"))
        self.status = _tagged(widgets.HTML(), "status")
        self.problem = _tagged(widgets.HTML(), "problem")
        self.presence = Presence()
        self.widget = _tagged(widgets.VBox([
            self.header, load_row, self.pipeline_info, widgets.HBox([self.progress, self.stage]),
            widgets.HBox([live, steering]), self.status, self.problem, self.presence,
        ]), "panel")

    def _build_load_row(self, choices: list[PipelineChoice]) -> widgets.HBox:
        """The pipeline picker, mode, VACE and the load/start/stop buttons (and the load's progress)."""
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
        return widgets.HBox([self.pipeline, self.mode, self.vace, self.load_button, self.start_button,
                             self.stop_button])

    def _build_live_view(self) -> widgets.VBox:
        """The live image, its figures and chart, and the snapshot and record buttons."""
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
        figures = widgets.HBox([self.fps, self.figures], layout=widgets.Layout(align_items="center"))
        return widgets.VBox([self.image, figures, self.chart,
                             widgets.HBox([self.view_toggle, self.snapshot_button, self.record_button]), self.saved],
                            layout=widgets.Layout(width="600px"))

    def _build_prompt(self) -> list[widgets.Widget]:
        """The prompt, a second prompt to blend, the transition settings and the send button."""
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
        return [_heading("Prompt (Enter or the button sends it)"), self.prompt, self.prompt_weight, self.blend,
                self.blend_weight, widgets.HBox([self.transition, self.transition_steps, self.transition_method]),
                self.send_button]

    def _build_references(self) -> widgets.VBox:
        """VACE reference images: upload, pick, send."""
        self.refs_upload = _tagged(widgets.FileUpload(accept="image/*", multiple=True, description="upload images"),
                                   "ref-upload")
        self.refs = _tagged(widgets.SelectMultiple(rows=4, description="references"), "refs")
        self.refs_send = _tagged(widgets.Button(description="Send references"), "refs-send")
        self.refs_box = widgets.VBox([_heading("VACE reference images (sent once per press; Scope "
                                               "applies them to one chunk)"),
                                      widgets.HBox([self.refs_upload, self.refs_send]), self.refs])
        return self.refs_box

    def _build_input(self, input_fps: float) -> widgets.VBox:
        """The input of video mode: its picker, a clip upload and the browser's webcam."""
        self.source = _tagged(widgets.Dropdown(options=[(text, key) for key, text in INPUT_LABELS.items()],
                                               value="pattern", description="input"), "source")
        self.clip_upload = _tagged(widgets.FileUpload(accept="video/*,.mp4,.webm,.mov,.mkv", multiple=False,
                                                      description="upload clip"), "clip-upload")
        self.webcam = Webcam(fps=input_fps)
        self.webcam.add_class("lab-live-webcam")
        self.input_box = widgets.VBox([_heading("Input (video mode)"), self.source, self.clip_upload, self.webcam])
        return self.input_box

    def show_controls(self, schema: PipelineSchema, mode: str, controls: list[widgets.Widget]) -> None:
        """Show ``controls`` for ``schema`` in ``mode`` (closing the previous ones), and only the
        prompt, reference and input widgets that pipeline and mode take."""
        for old in self.controls_box.children:
            old.close()
        self.controls_box.children = controls or [
            widgets.Label(f"{schema.id} offers no runtime controls in {mode} mode")]
        for widget in (self.prompt, self.prompt_weight, self.blend, self.blend_weight, self.transition,
                       self.transition_steps, self.transition_method, self.send_button):
            widget.disabled = not schema.supports_prompts
        extras = schema.model_extra or {}
        self.transition_method.value = extras.get("default_temporal_interpolation_method") or "linear"
        self.refs_box.layout.display = None if schema.supports_vace else "none"
        self.input_box.layout.display = None if mode == "video" else "none"

    def show_error(self, text: str) -> None:
        """Show a problem until the next load or start (the status line moves on)."""
        self.problem.value = f"<span style='color:#c00'>⚠ {html.escape(text, quote=False)}</span>"


def control_widget(spec: ControlSpec) -> widgets.Widget:
    """The widget for one runtime control (updates only on release or Enter, not while dragging)."""
    if spec.kind == "bool":
        return widgets.Checkbox(value=bool(spec.default), description=spec.label, indent=False)
    if spec.kind == "steps":
        return widgets.Text(value=", ".join(str(s) for s in spec.default), description=spec.label,
                            continuous_update=False, style={"description_width": "initial"})
    slider = widgets.IntSlider if spec.kind == "int" else widgets.FloatSlider
    return slider(value=spec.default, min=spec.minimum, max=spec.maximum, step=spec.step, description=spec.label,
                  continuous_update=False, style={"description_width": "initial"})


def _tagged(widget: W, name: str) -> W:
    """``widget`` with the CSS class ``lab-live-<name>``."""
    widget.add_class(f"lab-live-{name}")
    return widget


def _slider(description: str, value: float, low: float, high: float, step: float) -> widgets.FloatSlider:
    return widgets.FloatSlider(value=value, min=low, max=high, step=step, description=description,
                               continuous_update=False, readout_format=".2f")


def _heading(text: str) -> widgets.HTML:
    return widgets.HTML(f"<b>{html.escape(text, quote=False)}</b>")


def _first_generative(choices: list[PipelineChoice]) -> str:
    """The picker's first value: the first generative pipeline that fits, else the first."""
    fitting = [p for p in choices if p.schema.is_generative and p.fits is not False]
    return (fitting or choices)[0].id
