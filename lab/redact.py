"""Secret-looking text replaced before anything is stored or shown: one rule for the store and the server log.

Keys that name a secret (token, password, credential, API key, ...) lose their value; in
any text, HuggingFace tokens, Daydream API keys (``sk_...``), RunPod API keys (``rpa_...``)
``Bearer`` credentials and the stream key in a hosted stream's WHIP URL
(``.../live/video-to-video/<key>/whip``: whoever has it can publish to the stream) are replaced. Kept apart from
:mod:`lab.store` so that the client can redact server log lines without loading pandas.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

__all__ = ["REDACTED", "redact"]

REDACTED = "<redacted>"
_SECRET_KEY = re.compile(r"token|secret|password|passwd|credential|authorization|api[_-]?key|stream[_-]?key|cookie",
                         re.I)
_SECRET_VALUE = re.compile(r"\bhf_[A-Za-z0-9]{20,}\b|\bsk_[A-Za-z0-9_-]{16,}|\brpa_[A-Za-z0-9]{16,}\b|\bBearer\s+\S+"
                           r"|(?<=/video-to-video/)[^/\s]+(?=/whip)", re.I)


def redact(value: Any) -> Any:
    """A copy of ``value`` with secret-looking keys and values replaced by ``<redacted>``."""
    if isinstance(value, Mapping):
        return {k: REDACTED if _SECRET_KEY.search(str(k)) and v not in (None, "") else redact(v)
                for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    if isinstance(value, str):
        return _SECRET_VALUE.sub(REDACTED, value)
    return value
