"""Run the simulator in a child process, for tests and notebooks.

:func:`start_simulator` starts ``python -m lab.sim --port 0`` and waits for its ready line;
:func:`shared_simulator` keeps one such process for the whole interpreter and stops it at
exit. The child listens on 127.0.0.1 only.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import queue
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from types import TracebackType
from typing import Any

from lab.sim.config import SimConfig

__all__ = ["SPEED_ENV", "RunningSimulator", "shared_simulator", "start_simulator"]

logger = logging.getLogger(__name__)

SPEED_ENV = "LAB_SIM_SPEED"
_STDERR_TAIL_BYTES = 4000
_PACKAGE_ROOT = Path(__file__).resolve().parents[2]  # the directory that holds lab/


class RunningSimulator:
    """A simulator child process and its URL; stop it with :meth:`stop` or ``with``.

    Its stdout is read by a thread (the first line is the ready line, later lines are
    logged); its stderr goes to a temporary file so that a failure can show its end.
    """

    def __init__(self, args: list[str]) -> None:
        env = dict(os.environ)
        paths = [str(_PACKAGE_ROOT), env.get("PYTHONPATH")]
        env["PYTHONPATH"] = os.pathsep.join(path for path in paths if path)
        self.url = ""
        self._stderr = tempfile.TemporaryFile()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "lab.sim", *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            env=env,
        )
        self._first_line: queue.Queue[bytes] = queue.Queue(maxsize=1)
        self._reader = threading.Thread(
            target=self._read_stdout, name="lab-sim-stdout", daemon=True
        )
        self._reader.start()
        self._stopped = False

    def stop(self, timeout_s: float = 5.0) -> None:
        """Terminate the process (kill it after ``timeout_s``), reap it and close its pipes.

        Calling it again does nothing.
        """
        if self._stopped:
            return
        self._stopped = True
        self._terminate(timeout_s)
        self._reader.join(timeout_s)
        if self.process.stdout is not None:
            self.process.stdout.close()
        self._stderr.close()

    def stderr_tail(self) -> str:
        """The end of what the process wrote to stderr (empty once stopped)."""
        if self._stderr.closed:
            return ""
        self._stderr.seek(0, os.SEEK_END)
        self._stderr.seek(max(self._stderr.tell() - _STDERR_TAIL_BYTES, 0))
        return self._stderr.read().decode("utf-8", "replace")

    def __enter__(self) -> RunningSimulator:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"RunningSimulator(url={self.url!r}, pid={self.process.pid})"

    def _wait_ready(self, timeout_s: float) -> None:
        """Take the URL from the ready line, or stop the process and raise RuntimeError."""
        try:
            line: bytes | None = self._first_line.get(timeout=timeout_s)
        except queue.Empty:
            line = None
        url = _ready_url(line) if line else None
        if url is not None:
            self.url = url
            return
        self._terminate(timeout_s=5.0)
        if line is None:
            problem = f"did not report ready within {timeout_s:g} s"
        elif line:
            problem = f"printed {line!r} instead of its ready line"
        else:
            problem = f"exited with code {self.process.returncode} before it was ready"
        tail = self.stderr_tail()
        self.stop()
        raise RuntimeError(
            f"The simulator (python -m lab.sim, pid {self.process.pid}) {problem}. "
            f"Its stderr ends with:\n{tail}"
        )

    def _terminate(self, timeout_s: float) -> None:
        if self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            logger.warning("Simulator pid %d ignored SIGTERM; killing it", self.process.pid)
            self.process.kill()
            self.process.wait()

    def _read_stdout(self) -> None:
        """Hand the first stdout line (or b"" at EOF) to :meth:`_wait_ready`; log the rest."""
        assert self.process.stdout is not None
        first = True
        for line in self.process.stdout:
            if first:
                self._first_line.put(line)
                first = False
            else:
                logger.debug("simulator stdout: %s", line.decode("utf-8", "replace").rstrip())
        if first:
            self._first_line.put(b"")


def start_simulator(
    config: SimConfig | None = None,
    *,
    log_level: str = "warning",
    timeout_s: float = 20.0,
    **overrides: Any,
) -> RunningSimulator:
    """Start a simulator in a child process on a free loopback port.

    Parameters
    ----------
    config
        The simulator's startup config; defaults to ``SimConfig()``.
    log_level
        The child's log level (its logs go to its stderr).
    timeout_s
        How long to wait for the child to report that it accepts connections.
    **overrides
        :class:`SimConfig` fields that replace those of ``config``, e.g. ``speed=100``.

    Returns
    -------
    RunningSimulator
        With ``.url`` such as ``http://127.0.0.1:43123``.

    Raises
    ------
    RuntimeError
        If the child exits or does not become ready within ``timeout_s``; the message ends
        with the child's stderr.
    pydantic.ValidationError
        If ``overrides`` do not make a valid config.

    Examples
    --------
    >>> with start_simulator(speed=100, cpu_only=True) as sim:  # doctest: +SKIP
    ...     httpx.get(f"{sim.url}/health").json()["simulator"]
    True
    """
    config = config or SimConfig()
    if overrides:
        config = SimConfig.model_validate({**config.model_dump(exclude_unset=True), **overrides})
    sim = RunningSimulator(
        ["--host", "127.0.0.1", "--port", "0", "--log-level", log_level,
         "--config-json", config.model_dump_json()]
    )
    sim._wait_ready(timeout_s)
    logger.info("Simulator pid %d ready at %s", sim.process.pid, sim.url)
    return sim


_shared: RunningSimulator | None = None
_shared_lock = threading.Lock()


def shared_simulator() -> RunningSimulator:
    """Return the process-wide simulator, starting it on first use (or if it died).

    Its speed comes from the ``LAB_SIM_SPEED`` environment variable (default 1). It stands
    for a pod that is ready to use, like the research log's (every model downloaded);
    ``start_simulator`` or ``lab sim --models missing`` give one that still has to download.
    It is stopped when the interpreter exits.

    Raises
    ------
    ValueError
        If ``LAB_SIM_SPEED`` is not a number.
    RuntimeError
        If the simulator does not start.
    """
    global _shared
    with _shared_lock:
        if _shared is None or _shared.process.poll() is not None:
            if _shared is not None:
                _shared.stop()  # it died: reap it and close its pipes
            _shared = start_simulator(SimConfig(speed=_speed_from_env(), models="present"))
        return _shared


def _stop_shared() -> None:
    if _shared is not None:
        _shared.stop()


atexit.register(_stop_shared)


def _speed_from_env() -> float:
    raw = os.environ.get(SPEED_ENV, "1")
    try:
        return float(raw)
    except ValueError:
        raise ValueError(f"{SPEED_ENV}={raw!r} is not a number; set it to e.g. 1 or 50") from None


def _ready_url(line: bytes) -> str | None:
    try:
        url = json.loads(line).get("url")
    except (ValueError, AttributeError):
        return None
    return url if isinstance(url, str) else None
