"""What the live panel shows of its controller: load and stream state, the figures, the picked pipeline.

:func:`show_state` mirrors the controller's state in the panel's widgets after every
change it reports; :func:`show_figures` refreshes the fps, figures and chart while it
streams (the panel calls it twice a second). Both write into a
:class:`lab.live.layout.PanelLayout` and read the controller only.
"""

from __future__ import annotations

import html

from lab.live.controller import LiveController
from lab.live.layout import PanelLayout
from lab.live.loading import LoadState, PipelineChoice
from lab.live.stats import LiveFigures
from lab.live.view import chart_svg
from lab.overview import ServerOverview

__all__ = ["show_state", "show_figures", "show_pipeline_info"]


def show_state(layout: PanelLayout, controller: LiveController) -> None:
    """Progress, buttons, the status line and the picked pipeline's facts, as the controller has them now."""
    c = controller
    load = c.load_status
    busy = load.state in (LoadState.DOWNLOADING, LoadState.LOADING)
    layout.progress.value = load.progress
    layout.progress.bar_style = {LoadState.FAILED: "danger", LoadState.LOADED: "success"}.get(load.state, "info")
    layout.stage.value = load.message
    layout.load_button.disabled = busy
    layout.start_button.disabled = busy or c.loaded is None or load.state is not LoadState.LOADED
    layout.stop_button.disabled = not c.streaming
    layout.record_button.disabled = not c.streaming
    if layout.record_button.value != c.recording:
        layout.record_button.value = c.recording
    if not c.streaming:
        layout.webcam.active = False
        layout.fps.value = "– fps"
    layout.status.value = html.escape(c.message, quote=False)
    show_pipeline_info(layout, controller)  # models may have been downloaded since


def show_figures(layout: PanelLayout, controller: LiveController) -> None:
    """The stream's fps, figures (with the webcam's frame count when it is the input) and chart."""
    figures = controller.stats.sample()
    layout.fps.value = f"{figures.fps:.1f} fps"
    webcam_frames = layout.webcam.received if layout.webcam.active else None
    layout.figures.value = _figures_html(figures, controller.label, webcam_frames)
    layout.chart.value = chart_svg(controller.stats.history, label=controller.label)


def show_pipeline_info(layout: PanelLayout, controller: LiveController) -> None:
    """The picked pipeline's modes, size, VACE, prompts, VRAM fit and models."""
    choice = next(p for p in controller.choices if p.id == layout.pipeline.value)
    layout.pipeline_info.value = _pipeline_info(choice, controller.overview)


def _pipeline_info(choice: PipelineChoice, overview: ServerOverview) -> str:
    schema = choice.schema
    sizes = ", ".join(f"{mode} {r[1]}x{r[0]}" for mode in schema.supported_modes if (r := schema.resolution(mode)))
    models = overview.models.get(schema.id)
    vram = overview.hardware.vram_gb
    fit = {True: "fits", False: "<b style='color:#c00'>does not fit</b>", None: "fit unknown"}[choice.fits]
    facts = [
        f"modes: {'/'.join(schema.supported_modes)} (default {schema.default_mode}); size {sizes or '-'}",
        f"VACE: {'yes' if schema.supports_vace else 'no'}; prompts: {'yes' if schema.supports_prompts else 'no'}",
        ("no VRAM estimate (Scope registers it without CUDA)" if schema.estimated_vram_gb is None else
         f"est. VRAM {schema.estimated_vram_gb:g} GB, this pod {'no CUDA' if vram is None else f'{vram:g} GB'}: {fit}"),
        "models: " + ("-" if models is None else
                      "downloaded" if models.downloaded else "missing (Load downloads them)"),
    ]
    return f"<small>{html.escape(schema.description or '', quote=False)}<br>{' · '.join(facts)}</small>"


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
