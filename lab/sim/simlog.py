"""The simulator's own log, kept in memory for ``/api/v1/logs/current`` and ``/logs/tail``.

A real Scope writes one log file per run and serves it; the simulator has no log file, so it
keeps the lines its ``lab.sim`` loggers emit (pipeline loads and their failures, sessions
opened and closed, faults acted out, headless starts refused) in a bounded buffer. Offsets
are byte offsets into the whole text written since startup, as a tail client expects, even
after old lines have been dropped from memory.

The line format (``<time> - <logger> - <LEVEL> - <message>``) is the simulator's choice, as
Scope's is not known. Logger names stay ``lab.sim.*``, so nobody mistakes these lines for a
real server's.

In one process every attached log receives every ``lab.sim`` record: two in-process
simulators running at once see each other's lines.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from contextlib import AbstractContextManager
from typing import Any

__all__ = ["SimLog"]

_FORMAT = "%(asctime)s - %(name)s - %(levelname)s - %(message)s"
_LOGGER = "lab.sim"
_MAX_LINES = 5000

_attached = 0
_saved_level = logging.NOTSET
_attach_lock = threading.Lock()


class SimLog(logging.Handler):
    """A bounded, byte-offset log of the ``lab.sim`` loggers' records (INFO and above)."""

    def __init__(self, max_lines: int = _MAX_LINES) -> None:
        super().__init__(level=logging.INFO)
        self.setFormatter(logging.Formatter(_FORMAT))
        self._lines: deque[tuple[int, str]] = deque(maxlen=max_lines)  # (end offset, line)
        self._size = 0
        self._attached = False

    @property
    def size(self) -> int:
        """Bytes written since startup (the offset a tail client resumes from)."""
        return self._size

    def emit(self, record: logging.LogRecord) -> None:
        """Append one formatted record (several lines if it carries a traceback)."""
        try:
            text = self.format(record)
        except Exception:  # noqa: BLE001 - as logging does: report a bad record, never raise
            self.handleError(record)
            return
        for line in text.splitlines():  # handle() holds self.lock around emit()
            self._size += len(line.encode()) + 1
            self._lines.append((self._size, line))

    def text(self) -> str:
        """Every kept line, newline-terminated (what ``/logs/current`` sends)."""
        with self._locked():
            return "".join(line + "\n" for _, line in self._lines)

    def tail(self, lines: int, since_offset: int = 0) -> dict[str, object]:
        """The last ``lines`` kept lines that end after ``since_offset``, and the new offset."""
        with self._locked():
            newer = [line for end, line in self._lines if end > since_offset]
            return {"lines": newer[-lines:] if lines > 0 else [], "offset": self._size}

    def _locked(self) -> AbstractContextManager[Any]:
        """The handler's lock: records may come from aiortc's threads."""
        assert self.lock is not None  # created by logging.Handler.__init__
        return self.lock

    def attach(self) -> None:
        """Start receiving ``lab.sim`` records, lowering that logger to INFO if needed.

        The logger's level is restored when the last attached log detaches. Where the
        records are printed is unchanged: the CLI filters its stderr handler at its own
        level.
        """
        global _attached, _saved_level
        if self._attached:
            return
        logger = logging.getLogger(_LOGGER)
        with _attach_lock:
            if _attached == 0:
                _saved_level = logger.level
                if logger.getEffectiveLevel() > logging.INFO:
                    logger.setLevel(logging.INFO)
            _attached += 1
        logger.addHandler(self)
        self._attached = True

    def detach(self) -> None:
        """Stop receiving records (at shutdown)."""
        global _attached
        if not self._attached:
            return
        logger = logging.getLogger(_LOGGER)
        logger.removeHandler(self)
        self._attached = False
        with _attach_lock:
            _attached -= 1
            if _attached == 0:
                logger.setLevel(_saved_level)
