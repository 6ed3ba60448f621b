"""The live panel's steering: the prompt, runtime controls and VACE reference images, sent as they change.

:class:`SteeringPanel` is the panel's layout (:mod:`lab.live.layout`) with these widgets
wired to a :class:`~lab.live.controller.LiveController`; :class:`lab.live.panel.LivePanel`
adds loading, the input, saving and the panel's life. The runtime controls are rebuilt for
each pipeline and mode from its schema (:func:`lab.live.controls.runtime_controls`).

Widget callbacks are synchronous and run on the kernel's event loop between cells, so
every action is scheduled as a task on that loop (kept in a set until done; a failure is
shown in the panel, not lost).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import ipywidgets as widgets

from lab.live.controller import LiveController
from lab.live.controls import ControlSpec, Transition, parse_steps, prompt_items, runtime_controls
from lab.live.layout import PanelLayout, control_widget

__all__ = ["SteeringPanel"]

log = logging.getLogger(__name__)


class SteeringPanel(PanelLayout):
    """The panel's widgets, with what steers a running stream wired to ``controller``."""

    def __init__(self, controller: LiveController) -> None:
        super().__init__(controller.overview, controller.choices, controller.input_fps)
        self.controller = controller
        self._loop = asyncio.get_running_loop()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._controls: dict[str, tuple[ControlSpec, widgets.Widget]] = {}
        self._touched: set[str] = set()
        self.mode.observe(lambda _: self._rebuild_controls(), "value")
        self.send_button.on_click(lambda _: self._send_prompt())
        for widget in (self.prompt, self.prompt_weight, self.blend, self.blend_weight):
            widget.observe(lambda _: self._send_prompt(), "value")
        self.refs_upload.observe(lambda _: self._spawn(self._upload_references(), "uploading images"), "value")
        self.refs_send.on_click(lambda _: self._send({"vace_ref_images": list(self.refs.value)}))

    # -- tasks -------------------------------------------------------------------------

    def _spawn(self, coroutine: Coroutine[Any, Any, Any], what: str) -> None:
        """Run ``coroutine`` as a task of the panel; if it fails, say that ``what`` failed."""
        task = self._loop.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(lambda done: self._finished(done, what))

    def _finished(self, task: asyncio.Task[Any], what: str) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            log.info("live panel: %s failed", what, exc_info=exc)
            self.show_error(f"{what} failed: {exc}")

    # -- runtime controls and prompts --------------------------------------------------

    def _rebuild_controls(self) -> None:
        if not self.mode.value:
            return
        schema = self.controller.schema(self.pipeline.value)
        self._controls = {spec.key: (spec, control_widget(spec)) for spec in runtime_controls(schema, self.mode.value)}
        self._touched.clear()
        for key, (_, widget) in self._controls.items():
            widget.observe(lambda _, key=key: self._control_changed(key), "value")
        rows: list[widgets.Widget] = [widget for _, widget in self._controls.values()]
        if (schema.model_extra or {}).get("supports_cache_management"):
            reset = widgets.Button(description="Reset cache")
            reset.on_click(lambda _: self._send({"reset_cache": True}))
            rows.append(reset)
        self.show_controls(schema, self.mode.value, rows)

    def _control_value(self, key: str) -> Any:
        spec, widget = self._controls[key]
        return parse_steps(widget.value) if spec.kind == "steps" else widget.value

    def _control_changed(self, key: str) -> None:
        self._touched.add(key)
        try:
            value = self._control_value(key)
        except ValueError as exc:
            self.show_error(str(exc))
            return
        self._send({key: value})

    def _prompts(self) -> list[dict[str, Any]]:
        return prompt_items([(self.prompt.value, self.prompt_weight.value),
                             (self.blend.value, self.blend_weight.value)])

    def _initial_parameters(self) -> dict[str, Any]:
        """What a new stream starts with: the prompts, and each control the server needs told (or was moved)."""
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

    # -- reference images --------------------------------------------------------------

    async def _upload_references(self) -> None:
        for item in self.refs_upload.value:
            await self.controller.upload_reference(bytes(item["content"]), item["name"])
        await self._refresh_references()

    async def _refresh_references(self) -> None:
        selected = set(self.refs.value)
        assets = await self.controller.reference_images()
        self.refs.options = [(Path(asset.path).name, asset.path) for asset in assets]
        self.refs.value = tuple(asset.path for asset in assets if asset.path in selected)
