"""Notebook 05 in a real browser: JupyterLab on loopback, driven in headless Chromium by Playwright.

What a person does, against the simulator: open the notebook, run it, pick a generative
pipeline, load it, change the prompt; the live image must change with it and the fps
figure must become a positive number. Then the webcam (Chromium's fake camera) through
passthrough, and closing the notebook, which must close the session on the server.

Everything stays on 127.0.0.1: JupyterLab's news and update checks are off, its extension
manager is read-only, Chromium runs without background networking, and every request the
page makes to another host is aborted and fails the test. Debian's ``chromium`` is
needed (``.ci/run`` installs it); Playwright drives it, it never downloads a browser.

Artifacts in ``test-artifacts/``: screenshots of the panel (``live-panel.png``, with the
webcam ``live-panel-webcam.png``) and the kernel's CPU while viewing (``live-panel-cpu.json``).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import nbformat
import psutil
import pytest
from papermill.iorw import load_notebook_node
from papermill.parameterize import parameterize_notebook
from playwright.sync_api import Locator, Page, sync_playwright

from tests.conftest import ROOT, SimControl

pytestmark = [pytest.mark.browser, pytest.mark.timeout(170)]

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "test-artifacts"
NOTEBOOK = ROOT / "notebooks" / "05-live-explore.ipynb"
CHROMIUM_FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
    "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",  # a fake camera, no permission prompt
]
# The mean colour of the displayed picture (32 x 32 samples), read in the page.
MEAN_COLOUR_JS = """(img) => {
  if (!img.complete || !img.naturalWidth) return null;
  const canvas = Object.assign(document.createElement("canvas"), { width: 32, height: 32 });
  const context = canvas.getContext("2d");
  context.drawImage(img, 0, 0, 32, 32);
  const data = context.getImageData(0, 0, 32, 32).data;
  const sum = [0, 0, 0];
  for (let i = 0; i < data.length; i += 4) { sum[0] += data[i]; sum[1] += data[i + 1]; sum[2] += data[i + 2]; }
  return sum.map((v) => v / (data.length / 4));
}"""
KERNEL_CONNECTED_JS = """() => {
  const kernel = window.jupyterapp?.shell.currentWidget?.sessionContext?.session?.kernel;
  return kernel?.connectionStatus === "connected" && kernel?.status === "idle";
}"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class JupyterLab:
    """``jupyter lab`` on 127.0.0.1 with a token, in its own process group and config dirs."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = _free_port()
        self.token = secrets.token_hex(16)
        settings = root / ".jupyter" / "lab-settings"
        news = settings / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
        news.parent.mkdir(parents=True)
        news.write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))  # no "news?" prompt
        env = {**os.environ, "JUPYTER_CONFIG_DIR": str(root / ".jupyter" / "config"),
               "JUPYTER_RUNTIME_DIR": str(root / ".jupyter" / "runtime"), "JUPYTERLAB_SETTINGS_DIR": str(settings),
               "JUPYTERLAB_WORKSPACES_DIR": str(root / ".jupyter" / "workspaces")}
        command = [
            str(ROOT / ".venv" / "bin" / "jupyter"), "lab", "--no-browser", "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={self.port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={root}", "--LabApp.news_url=None", "--LabApp.extension_manager=readonly",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate", "--LabApp.expose_app_in_browser=True",
        ]
        if os.geteuid() == 0:
            command.append("--allow-root")
        self.log = (root / "jupyter.log").open("w")
        self.process = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL, stdout=self.log,
                                        stderr=subprocess.STDOUT, start_new_session=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/{path}?token={self.token}"

    def wait_ready(self, timeout_s: float = 30.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                if httpx.get(self.url("api/status"), timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"JupyterLab did not start within {timeout_s} s; its log:\n{self.log_tail()}")

    def kernel_process(self) -> psutil.Process:
        (kernel,) = [p for p in psutil.Process(self.process.pid).children(recursive=True)
                     if "ipykernel_launcher" in " ".join(p.cmdline())]
        return kernel

    def log_tail(self) -> str:
        self.log.flush()
        return (self.root / "jupyter.log").read_text()[-3000:]

    def stop(self) -> None:
        """SIGTERM JupyterLab's process group (SIGKILL after 10 s), then any kernel it left behind
        (jupyter_client starts kernels in sessions of their own)."""
        children = psutil.Process(self.process.pid).children(recursive=True) if self.process.poll() is None else []
        for sig in (signal.SIGTERM, signal.SIGKILL):
            if self.process.poll() is not None:
                break
            os.killpg(self.process.pid, sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(10)
        _, alive = psutil.wait_procs(children, timeout=5)
        for process in alive:
            process.kill()
        self.log.close()


@pytest.fixture
def jupyter_lab(sim: SimControl, tmp_path: Path) -> Iterator[JupyterLab]:
    """JupyterLab serving notebook 05, parameterized (as papermill does) for the test simulator."""
    assert CHROMIUM.exists(), f"{CHROMIUM} is missing: apt-get install chromium (.ci/run does it)"
    notebook = parameterize_notebook(load_notebook_node(str(NOTEBOOK)),
                                     {"target": sim.url, "results_dir": str(tmp_path / "results")})
    nbformat.write(notebook, tmp_path / NOTEBOOK.name)
    lab = JupyterLab(tmp_path)
    try:
        lab.wait_ready()
        yield lab
    finally:
        lab.stop()


class PanelPage:
    """The notebook page and the panel's widgets (found by their ``lab-live-*`` classes)."""

    def __init__(self, page: Page) -> None:
        self.page = page

    def widget(self, name: str) -> Locator:
        return self.page.locator(f".lab-live-{name}")

    def choose(self, name: str, starting_with: str) -> None:
        select = self.widget(name).locator("select")
        label = next(text for text in select.locator("option").all_text_contents() if text.startswith(starting_with))
        select.select_option(label=label.replace("\xa0", " "))

    def fps(self) -> float:
        match = re.match(r"([\d.]+) fps", self.widget("fps").text_content() or "")
        return float(match.group(1)) if match else 0.0

    def image(self) -> tuple[str, list[float] | None]:
        """The live image's current src and mean colour."""
        image = self.page.locator("img.lab-live-image")
        return image.get_attribute("src") or "", image.evaluate(MEAN_COLOUR_JS)

    def wait_until(self, condition: Any, what: str, timeout_s: float = 30.0) -> None:
        deadline = time.monotonic() + timeout_s
        while not condition():
            if time.monotonic() > deadline:
                status = self.widget("status").all_text_contents() + self.widget("problem").all_text_contents()
                raise AssertionError(f"{what}: not within {timeout_s} s (panel status: {status})")
            self.page.wait_for_timeout(250)


def cpu_percent(process: psutil.Process, seconds: float) -> float:
    """The process's CPU use over ``seconds`` (100 = one core)."""
    before, started = process.cpu_times(), time.monotonic()
    time.sleep(seconds)
    after = process.cpu_times()
    return 100 * (after.user + after.system - before.user - before.system) / (time.monotonic() - started)


def test_live_panel_in_jupyterlab(jupyter_lab: JupyterLab, sim: SimControl, tmp_path: Path) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    left_loopback: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"), executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_FLAGS,
            viewport={"width": 1400, "height": 1100})
        try:
            page = browser.new_page()
            page.route("**/*", lambda route: route.continue_() if route.request.url.startswith("http://127.0.0.1:")
                       or route.request.url.startswith(("blob:", "data:")) else
                       (left_loopback.append(route.request.url), route.abort()))
            panel = PanelPage(page)

            page.goto(jupyter_lab.url(f"lab/tree/{NOTEBOOK.name}"))
            page.wait_for_function(KERNEL_CONNECTED_JS, timeout=60_000)
            page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
            panel.widget("panel").wait_for(timeout=30_000)

            # a generative pipeline, its default (text) mode, loaded and streaming
            panel.choose("pipeline", "longlive")
            panel.wait_until(lambda: panel.widget("mode").locator("select").input_value() == "text",
                             "the picker switching to longlive's default mode", timeout_s=10)
            panel.widget("load").click()
            panel.wait_until(lambda: panel.fps() > 0, "a positive fps")
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

            # the panel's cost in the kernel: viewing at the stream's rate, then the same stream unviewed
            kernel = jupyter_lab.kernel_process()
            viewing = cpu_percent(kernel, 5.0)
            stream_fps = panel.fps()
            panel.widget("view-toggle").locator("input").uncheck()
            not_viewing = cpu_percent(kernel, 5.0)
            cpu = {"kernel_cpu_percent_viewing": round(viewing, 1),
                   "kernel_cpu_percent_not_viewing": round(not_viewing, 1),
                   "panel_overhead_cpu_percent": round(viewing - not_viewing, 1), "stream_fps": stream_fps,
                   "pipeline": "longlive (text, 576x320)", "source": "SIMULATED", "cores": os.cpu_count()}
            (ARTIFACTS / "live-panel-cpu.json").write_text(json.dumps(cpu, indent=2) + "\n")
            print(f"kernel CPU: {cpu}")
            panel.widget("view-toggle").locator("input").check()

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
        finally:
            browser.close()
    assert left_loopback == []
