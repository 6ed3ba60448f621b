"""Notebook 05 in JupyterLab on loopback, driven in headless Chromium by Playwright.

Shared by the browser test (``tests/test_browser_live.py``: what a person sees) and the
browser benchmark (``bench/bench_browser_live.py``: what it costs the kernel). Everything
stays on 127.0.0.1: JupyterLab's news and update checks are off, its extension manager is
read-only, Chromium runs without background networking, and every request the page makes
to another host is aborted and recorded. Debian's ``chromium`` is needed; Playwright drives
it and never downloads a browser.
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
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import nbformat
import psutil
from papermill.iorw import load_notebook_node
from papermill.parameterize import parameterize_notebook
from playwright.sync_api import BrowserContext, Locator, Page, Playwright

__all__ = ["CHROMIUM", "NOTEBOOK", "JupyterLab", "PanelPage", "jupyter_lab", "loopback_page", "open_panel"]

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
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


@contextlib.contextmanager
def jupyter_lab(target: str, folder: Path) -> Iterator[JupyterLab]:
    """JupyterLab serving notebook 05 from ``folder``, parameterized (as papermill does) for ``target``."""
    if not CHROMIUM.exists():
        raise RuntimeError(f"{CHROMIUM} is missing: apt-get install chromium (make test does it)")
    notebook = parameterize_notebook(load_notebook_node(str(NOTEBOOK)),
                                     {"target": target, "results_dir": str(folder / "results")})
    nbformat.write(notebook, folder / NOTEBOOK.name)
    lab = JupyterLab(folder)
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

    def wait_until(self, condition: Callable[[], object], what: str, timeout_s: float = 30.0) -> None:
        deadline = time.monotonic() + timeout_s
        while not condition():
            if time.monotonic() > deadline:
                status = self.widget("status").all_text_contents() + self.widget("problem").all_text_contents()
                raise AssertionError(f"{what}: not within {timeout_s} s (panel status: {status})")
            self.page.wait_for_timeout(250)

    def stream(self, pipeline: str, mode: str) -> None:
        """Pick ``pipeline`` (its picker must switch to ``mode``), load it, wait for a positive fps."""
        self.choose("pipeline", pipeline)
        self.wait_until(lambda: self.widget("mode").locator("select").input_value() == mode,
                        f"the picker switching to {pipeline}'s {mode} mode", timeout_s=10)
        self.widget("load").click()
        self.wait_until(lambda: self.fps() > 0, "a positive fps")


@contextlib.contextmanager
def loopback_page(playwright: Playwright, profile: Path) -> Iterator[tuple[BrowserContext, Page, list[str]]]:
    """Headless Chromium and a page whose requests beyond 127.0.0.1 are aborted and listed."""
    browser = playwright.chromium.launch_persistent_context(
        str(profile), executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_FLAGS,
        viewport={"width": 1400, "height": 1100})
    left_loopback: list[str] = []
    try:
        page = browser.new_page()
        page.route("**/*", lambda route: route.continue_() if route.request.url.startswith("http://127.0.0.1:")
                   or route.request.url.startswith(("blob:", "data:")) else
                   (left_loopback.append(route.request.url), route.abort()))
        yield browser, page, left_loopback
    finally:
        browser.close()


def open_panel(page: Page, lab: JupyterLab) -> PanelPage:
    """Open notebook 05, run all its cells and wait for the panel."""
    page.goto(lab.url(f"lab/tree/{NOTEBOOK.name}"))
    page.wait_for_function(KERNEL_CONNECTED_JS, timeout=60_000)
    page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
    panel = PanelPage(page)
    panel.widget("panel").wait_for(timeout=30_000)
    return panel
