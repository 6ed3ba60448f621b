"""Live exploration in JupyterLab: a control panel and live view of a Scope server.

In a notebook (JupyterLab 4, ipywidgets 8)::

    from lab.live import LivePanel
    panel = await LivePanel.open("sim")   # or a pod id / URL
    panel

Pick a pipeline (VACE support, VRAM estimate and whether it fits this pod are shown),
Load it (progress and loading stage), and it streams: the live image follows the stream's
own rate (up to 30 fps), with fps, frame interval, latency (stamped input) and a rolling
chart. Prompts (with weight, a second prompt to blend, smooth transitions) and the
runtime controls the pipeline's schema offers go over the data channel as you change
them; VACE reference images are uploaded to the server's assets and sent on demand; the
input (video mode) is the stamped test pattern, the shipped clip, an uploaded clip or the
browser's webcam. Snapshot and Record save frames, clips and figures in
``results/live/<run-id>/``, labelled SIMULATED for the simulator.

Modules, one job each (imports point one way: panel → steering → layout, display → controller → the rest):

    controls    schema → runtime controls; prompt, transition and update diffing
    stats       rolling fps, frame interval and latency; the chart's history
    inputs      the input choices; PushedSource, fed with webcam frames
    results     the results folder: snapshots and clips (encoded in a worker thread)
    loading     the picker's choices; one pipeline load at a time, with its progress
    streaming   one open stream: session, input, latency from stamps, what was sent
    saving      snapshots and the clip being recorded, with what was streamed
    controller  LiveController: load, stream, steer, figures, saving; the exit hook
    view        FrameView (frames → JPEG → Image widget, off the event loop) and the SVG chart
    browser     the anywidgets that run in the browser: Webcam and Presence
    layout      PanelLayout: the panel's widgets, laid out
    display     what the widgets show of the controller: state, figures, pipeline facts
    steering    SteeringPanel: prompt, runtime controls and references wired to a controller
    panel       LivePanel: load, input, saving and the panel's life, on top of the steering

Design decisions:

- **Kernel event loop.** The kernel runs an asyncio loop; the session and the panel's
  tasks run on it between cells. Widget callbacks are synchronous, so they schedule
  tasks (kept until done, failures shown in the panel). Nothing waits inside a cell.
- **Live view.** ``ipywidgets.Image`` fed with JPEG bytes: one frame in flight, encoded in
  a worker thread, newest frame wins, capped at ``max_view_fps``; see :mod:`lab.live.view`.
- **Webcam.** A small anywidget rather than ipywebrtc (no release since 2021, built
  against an older widgets protocol, one kernel round trip per picture); frames come as
  binary widget messages with credit-based flow control, so they only reach the kernel
  between cells, through callbacks. Needs a secure context (https or localhost: tunnel
  a remote JupyterLab). See :mod:`lab.live.browser`.
- **Clean-up.** Re-running the cell closes the previous panel (registry by key); a panel
  with no view on screen for a while stops its stream (notebook closed, kernel alive);
  kernel shutdown drops the session on the server (exit hook).
"""

from __future__ import annotations

from lab.live.controller import LiveController
from lab.live.loading import LoadState
from lab.live.panel import LivePanel
from lab.live.streaming import StreamState

__all__ = ["LivePanel", "LiveController", "LoadState", "StreamState"]
