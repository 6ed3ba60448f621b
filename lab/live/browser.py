"""The two parts of the live panel that run in the browser: the webcam and the presence beacon.

Both are small `anywidget <https://anywidget.dev>`_ widgets: a few lines of JavaScript
shipped inline, no build step, no JupyterLab extension of our own.

Why anywidget and not ipywebrtc's CameraStream + ImageRecorder: ipywebrtc 0.6.0 (2021, no
release since) works in JupyterLab 4 but declares ``@jupyter-widgets/base`` up to 4 while
JupyterLab 4 ships 6, and its ImageRecorder takes one picture per request from the kernel,
so a stream of frames needs a kernel round trip per frame. The widget here asks for the
camera with ``getUserMedia``, crops and scales in a canvas to the pipeline's size, and
sends JPEG frames as binary widget messages at a set rate, with flow control: at most
``CREDITS`` frames are in flight until the kernel acknowledges one, so frames do not pile
up while a cell runs (the kernel reads widget messages only between cells).

``getUserMedia`` exists only in a secure context: https, or http on localhost/127.0.0.1.
A remote JupyterLab must be reached through a tunnel (``ssh -L 8888:localhost:8888 host``,
then http://localhost:8888); the widget says so instead of failing silently.

:class:`Presence` tells the kernel that the panel is on screen: every view sends a
heartbeat every ``HEARTBEAT_S`` and tries to send a last message when it is removed.
Closing a notebook in JupyterLab removes its views without shutting the kernel down, and
the last message does not get through (the kernel connection goes first), so silence is
the signal: no heartbeat for ``SILENCE_S`` means nobody is watching. Two things would
fake silence, and are handled: browsers throttle timers of hidden tabs (Chromium: once
a minute after five minutes), so the heartbeat's timer runs in a Web Worker, which is
not throttled; and the kernel reads widget messages only between cells, so time spent
running a cell does not count (IPython's ``pre_run_cell``/``post_run_cell`` events mark
it, see :meth:`Presence.kernel_busy`). A tab the browser freezes or discards, or a
sleeping laptop, does count: the stream stops, and Start brings it back.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import anywidget
import traitlets

__all__ = ["Webcam", "Presence", "CREDITS", "HEARTBEAT_S", "SILENCE_S", "GONE_GRACE_S"]

log = logging.getLogger(__name__)

CREDITS = 2
HEARTBEAT_S = 2.0
SILENCE_S = 15.0  # several missed heartbeats: the views are gone
GONE_GRACE_S = 10.0  # a view removed and re-rendered (notebook moved, split) is not "gone"

WEBCAM_JS = """
const CREDITS = __CREDITS__;
const ACK_TIMEOUT_MS = 2000;

export default {
  render({ model, el }) {
    const video = Object.assign(document.createElement("video"),
                                { muted: true, playsInline: true, autoplay: true, className: "lab-webcam-video" });
    video.style.maxWidth = "160px";
    const note = Object.assign(document.createElement("div"), { className: "lab-webcam-note" });
    el.append(video, note);
    const canvas = document.createElement("canvas");
    let stream = null, timer = null, inFlight = 0, lastAck = 0, sent = 0;

    const fail = (text) => { note.textContent = text; model.send({ type: "error", message: text }); };

    function capture() {
      if (!stream || video.readyState < 2) return;
      if (inFlight >= CREDITS) {
        if (performance.now() - lastAck < ACK_TIMEOUT_MS) return;
        inFlight = 0;  // acknowledgements lost (kernel restarted): start over
      }
      const w = model.get("width"), h = model.get("height");
      const scale = Math.max(w / video.videoWidth, h / video.videoHeight);  // cover: crop, keep aspect
      const sw = w / scale, sh = h / scale;
      canvas.width = w; canvas.height = h;
      canvas.getContext("2d").drawImage(video, (video.videoWidth - sw) / 2, (video.videoHeight - sh) / 2,
                                        sw, sh, 0, 0, w, h);
      inFlight += 1;
      canvas.toBlob(async (blob) => {
        model.send({ type: "frame" }, undefined, [await blob.arrayBuffer()]);
        sent += 1;
        note.textContent = `camera on: ${sent} frames sent`;
      }, "image/jpeg", model.get("quality"));
    }

    async function start() {
      if (stream) return;
      if (!window.isSecureContext || !navigator.mediaDevices) {
        fail("The webcam needs a secure context: open JupyterLab as https:// or http://localhost " +
             "(for a remote server: ssh -L 8888:localhost:8888 HOST, then http://localhost:8888).");
        return;
      }
      let opened;
      try {
        opened = await navigator.mediaDevices.getUserMedia(
          { video: { width: { ideal: model.get("width") }, height: { ideal: model.get("height") } }, audio: false });
      } catch (error) {
        fail(`The camera could not be opened: ${error.name}: ${error.message}`);
        return;
      }
      if (!model.get("active")) { opened.getTracks().forEach((t) => t.stop()); return; }
      stream = opened;
      video.srcObject = stream;
      inFlight = 0; lastAck = performance.now();
      timer = setInterval(capture, 1000 / model.get("fps"));
      note.textContent = "camera on";
    }

    function stop() {
      clearInterval(timer);
      timer = null;
      if (stream) stream.getTracks().forEach((t) => t.stop());
      stream = null;
      video.srcObject = null;
      note.textContent = "camera off";
    }

    const onMessage = (msg) => {
      if (msg.type === "ack") { inFlight = Math.max(0, inFlight - 1); lastAck = performance.now(); }
    };
    const sync = () => (model.get("active") ? start() : stop());
    model.on("msg:custom", onMessage);
    model.on("change:active", sync);
    sync();
    return () => { model.off("msg:custom", onMessage); model.off("change:active", sync); stop(); };
  },
};
""".replace("__CREDITS__", str(CREDITS))

PRESENCE_JS = """
// The heartbeat's timer runs in a worker: browsers throttle the timers of hidden tabs, not workers'.
const TICKER = "let t; onmessage = (e) => { clearInterval(t); t = setInterval(() => postMessage(0), e.data); };";

export default {
  render({ model, el }) {
    const view = Math.random().toString(36).slice(2);
    const send = (type) => {
      try { model.send({ type, view }); } catch (error) { /* the kernel connection is gone */ }
    };
    const url = URL.createObjectURL(new Blob([TICKER], { type: "text/javascript" }));
    const ticker = new Worker(url);
    ticker.onmessage = () => send("alive");
    ticker.postMessage(model.get("interval_ms"));
    send("alive");
    return () => {
      ticker.terminate();
      URL.revokeObjectURL(url);
      send("gone");
    };
  },
};
"""


class Webcam(anywidget.AnyWidget):  # type: ignore[misc]
    """The browser's camera as a stream of JPEG frames sent to the kernel.

    Set ``active`` to open or close the camera. Each received frame goes to ``sink``
    (e.g. :meth:`lab.live.inputs.PushedSource.push_jpeg`) and is acknowledged.

    Attributes
    ----------
    received:
        Frames received from the browser.
    error:
        The browser's last complaint (no secure context, permission denied), or "".
    """

    _esm = WEBCAM_JS
    active = traitlets.Bool(False).tag(sync=True)
    width = traitlets.Int(512).tag(sync=True)
    height = traitlets.Int(512).tag(sync=True)
    fps = traitlets.Float(15.0).tag(sync=True)
    quality = traitlets.Float(0.8).tag(sync=True)
    error = traitlets.Unicode("")

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.sink: Callable[[bytes], None] | None = None
        self.received = 0
        self.on_msg(self._handle_message)

    def _handle_message(self, _widget: Any, content: dict[str, Any], buffers: list[memoryview]) -> None:
        kind = content.get("type")
        if kind == "frame" and buffers:
            self.received += 1
            self.send({"type": "ack"})
            if self.sink is not None:
                self.sink(bytes(buffers[0]))
        elif kind == "error":
            self.error = str(content.get("message", "unknown camera error"))
            log.warning("webcam: %s", self.error)


class Presence(anywidget.AnyWidget):  # type: ignore[misc]
    """Heartbeats from every on-screen view of the panel; tells when none is left.

    Parameters
    ----------
    clock:
        Monotonic clock in seconds (tests pass a fake).
    """

    _esm = PRESENCE_JS
    interval_ms = traitlets.Int(int(HEARTBEAT_S * 1000)).tag(sync=True)

    def __init__(self, *, clock: Callable[[], float] = time.monotonic, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.clock = clock
        self.seen = False
        self._busy = False
        self._views: dict[str, float] = {}
        self._last_event = clock()
        self.on_msg(self._handle_message)

    def _handle_message(self, _widget: Any, content: dict[str, Any], _buffers: list[memoryview]) -> None:
        view, kind = str(content.get("view")), content.get("type")
        self._last_event = self.clock()
        if kind == "alive":
            self._views[view] = self._last_event
            self.seen = True
        elif kind == "gone":
            self._views.pop(view, None)

    def kernel_busy(self, *_: Any) -> None:
        """A cell started: heartbeats now wait in the kernel's queue, silence means nothing."""
        self._busy = True

    def kernel_idle(self, *_: Any) -> None:
        """A cell finished: the queued heartbeats come next; count silence from now."""
        self._busy = False
        self._last_event = self.clock()

    def abandoned(self) -> bool:
        """True when a view was once on screen and none is now (gone, or silent too long).

        Never true before the first heartbeat (without a browser, as under nbval or
        papermill, the panel has no views and must keep working) nor while a cell runs.
        """
        if self._busy or not self.seen:
            return False
        now = self.clock()
        alive = any(now - beat < SILENCE_S for beat in self._views.values())
        return not alive and now - self._last_event >= GONE_GRACE_S
