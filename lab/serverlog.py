"""Which lines of the server's own log explain a failure.

Scope reports a failed load as a bare ``error`` and a stopped stream without a reason; the
reason is in its log, served by ``GET /api/v1/logs/tail``. The client notes the log's byte
offset before an operation and, if the operation fails, reads what was written since
(:meth:`lab.client.ScopeClient.log_excerpt`). This module picks the lines worth showing:
warnings, errors and tracebacks, and lines naming the pipeline, the last few of them,
shortened and with secrets redacted (:func:`lab.redact.redact`), since they end up in error
messages and stored trial rows.

Examples
--------
>>> relevant_lines(["... - INFO - Loaded ['gray']",
...                 "... - ERROR - Pipeline optical-flow could not be loaded: URLError: ..."])
['... - ERROR - Pipeline optical-flow could not be loaded: URLError: ...']
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from lab.redact import redact

__all__ = ["relevant_lines", "MAX_LINES", "MAX_LINE_CHARS"]

MAX_LINES = 6
MAX_LINE_CHARS = 300
# A logging line's level, or the text of an exception or traceback.
_TROUBLE = re.compile(r"\b(WARNING|WARN|ERROR|CRITICAL|FATAL)\b|Traceback|Error\b|Exception\b")


def relevant_lines(lines: Sequence[str], pipeline_id: str | None = None, limit: int = MAX_LINES) -> list[str]:
    """The last ``limit`` lines that report trouble or name ``pipeline_id``, shortened and redacted."""
    if limit <= 0:
        return []
    picked = [line.rstrip() for line in lines
              if line.strip() and (_TROUBLE.search(line) or (pipeline_id and pipeline_id in line))]
    return [_shortened(redact(line)) for line in picked[-limit:]]  # redacted whole: a cut cannot hide a token


def _shortened(line: str) -> str:
    return line if len(line) <= MAX_LINE_CHARS else line[: MAX_LINE_CHARS - 3] + "..."
