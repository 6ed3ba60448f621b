"""Notebook 05 in a real browser: JupyterLab on loopback, driven in headless Chromium by Playwright.

What a person does, against the simulator: open the notebook, run it, pick a generative
pipeline, load it, change the prompt; the live image must change with it and the fps
figure must become a positive number. Unticking the live view stops the image and keeps the
stream; ticking it again brings the image back. Then the webcam (Chromium's fake camera)
through passthrough, and closing the notebook, which must close the session on the server.
No request may leave 127.0.0.1 (see :mod:`tests.jupyter_browser`).

Screenshots of the panel go to ``test-artifacts/`` (``live-panel.png``, with the webcam
``live-panel-webcam.png``). What the panel costs the kernel is measured by
``bench/bench_browser_live.py``, not here.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from tests.conftest import ROOT, SimControl
from tests.jupyter_browser import JupyterLab, jupyter_lab, loopback_page, open_panel

pytestmark = [pytest.mark.browser, pytest.mark.timeout(170)]

ARTIFACTS = ROOT / "test-artifacts"


@pytest.fixture
def lab(sim: SimControl, tmp_path: Path) -> Iterator[JupyterLab]:
    with jupyter_lab(sim.url, tmp_path) as running:
        yield running


def test_live_panel_in_jupyterlab(lab: JupyterLab, sim: SimControl, tmp_path: Path) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright, loopback_page(playwright, tmp_path / "chromium-profile") as (_, page, left):
        panel = open_panel(page, lab)

        # a generative pipeline, its default (text) mode, loaded and streaming
        panel.stream("longlive", "text")
        src, before = panel.image()
        panel.wait_until(lambda: panel.image()[0] != src, "the live image updating", timeout_s=5)
        assert before is not None

        panel.widget("prompt").locator("input").fill("a field of bright green grass under a blue sky")
        panel.widget("send").click()
        panel.wait_until(lambda: max(abs(a - b) for a, b in zip(panel.image()[1] or before, before,
                                                                 strict=True)) > 40,
                         "the live image changing with the prompt", timeout_s=20)
        assert panel.fps() > 0 and "SIMULATED" in (panel.widget("figures").text_content() or "")
        panel.widget("panel").scroll_into_view_if_needed()
        page.screenshot(path=str(ARTIFACTS / "live-panel.png"))

        # the live view unticked: the picture holds still while the stream goes on; ticked: it moves again
        panel.widget("view-toggle").locator("input").uncheck()
        page.wait_for_timeout(1000)  # the kernel hears of it; a picture already on its way may still land
        held = panel.image()[0]
        page.wait_for_timeout(1500)  # over 20 frames of the stream
        assert panel.image()[0] == held and panel.fps() > 0
        panel.widget("view-toggle").locator("input").check()
        panel.wait_until(lambda: panel.image()[0] != held, "the live image updating again", timeout_s=5)

        # the webcam (Chromium's fake camera) through passthrough, back into the live view
        panel.choose("pipeline", "passthrough")
        panel.choose("source", "webcam")
        panel.widget("load").click()
        panel.wait_until(lambda: re.search(r"webcam frames in: [1-9]", panel.widget("figures").text_content() or "")
                         is not None and panel.fps() > 0, "webcam frames streaming")
        page.screenshot(path=str(ARTIFACTS / "live-panel-webcam.png"))

        # closing the notebook (the kernel keeps running) closes the session on the server
        page.evaluate("window.jupyterapp.commands.execute('docmanager:save')")
        page.evaluate("window.jupyterapp.commands.execute('application:close')")
        panel.wait_until(lambda: all(s["state"] == "closed" for s in sim._http.get("/sim/sessions").json()),
                         "the server's sessions closed after the notebook was closed", timeout_s=30)
    assert left == []
