"""Turn what a user types as a target into a base URL.

A target is one of:

- ``sim``: the embedded simulator (started in the background on loopback when needed);
- a URL: ``http://127.0.0.1:8000``, ``https://<pod>-8000.proxy.runpod.net``; a bare
  ``host:port`` means ``http://host:port``;
- a RunPod pod id such as ``gbc63llq1zdxki``, or ``runpod:<id>[:<port>]``: RunPod serves
  a pod's HTTP port through its proxy at ``https://<id>-<port>.proxy.runpod.net``, and
  Scope listens on port 8000;
- ``daydream:``: Daydream's hosted API (``https://api.daydream.live``, key from
  ``DAYDREAM_API_KEY``); ``daydream:sim`` its emulation in the embedded simulator;
  ``daydream:<url>`` another base URL with the same API (a simulator started with ``lab sim``).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from lab.errors import TargetError

__all__ = ["Target", "SCOPE_PORT", "DAYDREAM_API_URL", "RUNPOD_PROXY_SUFFIX", "runpod_url", "runpod_ports",
           "is_loopback_host", "is_hosted_target"]

SCOPE_PORT = 8000
RUNPOD_PROXY_SUFFIX = ".proxy.runpod.net"
SIM = "sim"
DAYDREAM = "daydream"
DAYDREAM_API_URL = "https://api.daydream.live"  # the SDK's default server

# RunPod pod ids are short random lower-case alphanumerics with digits ("gbc63llq1zdxki");
# requiring a digit and a letter keeps host names such as "localhost" out.
_POD_ID = re.compile(r"^(?=[a-z0-9]*\d)(?=[a-z0-9]*[a-z])[a-z0-9]{8,24}$")
_RUNPOD_FORM = re.compile(r"^runpod:(?P<id>[a-z0-9]{8,24})(?::(?P<port>\d{1,5}))?$")
_RUNPOD_PROXY_HOST = re.compile(r"^(?P<id>[a-z0-9]+)-(?P<port>\d{1,5})\.proxy\.runpod\.net$")

TargetKind = Literal["sim", "url", "runpod", "daydream"]


def is_hosted_target(text: str) -> bool:
    """Whether ``text`` names Daydream's hosted API (``daydream:...``); False for what does not parse
    (a stored run's target column may hold anything)."""
    try:
        return Target.parse(text).kind == DAYDREAM
    except TargetError:
        return False


def runpod_url(pod_id: str, port: int = SCOPE_PORT) -> str:
    """Return the RunPod proxy URL of ``port`` on pod ``pod_id``."""
    return f"https://{pod_id}-{port}{RUNPOD_PROXY_SUFFIX}"


def runpod_ports(text: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """A pod's ports in RunPod's ``"8000/http,22/tcp"`` form as (HTTP ports, other ports).

    Here because both sides read that form: :mod:`lab.pods` from the API, and the
    simulator's emulated account, which may not import it.

    >>> runpod_ports("8000/http, 22/tcp")
    ((8000,), (22,))
    """
    http, other = [], []
    for item in filter(None, text.replace(" ", "").split(",")):
        port, _, kind = item.partition("/")
        if port.isdigit():
            (http if kind == "http" else other).append(int(port))
    return tuple(http), tuple(other)


@dataclass(frozen=True)
class Target:
    """A parsed target: its kind, what the user typed, and the base URL (None for the simulator).

    Examples
    --------
    >>> Target.parse("gbc63llq1zdxki").url
    'https://gbc63llq1zdxki-8000.proxy.runpod.net'
    >>> Target.parse("localhost:8000").url
    'http://localhost:8000'
    """

    kind: TargetKind
    raw: str
    url: str | None

    @classmethod
    def parse(cls, text: str) -> Target:
        """Parse a target string; raise :class:`TargetError` saying which forms work."""
        raw = text.strip()
        if raw.lower() == SIM:
            return cls("sim", raw, None)
        if raw.lower().partition(":")[0] == DAYDREAM:
            return cls._hosted(raw, raw.partition(":")[2].strip())
        runpod = _RUNPOD_FORM.match(raw)
        if runpod:
            port = int(runpod["port"] or SCOPE_PORT)
            return cls("runpod", raw, runpod_url(runpod["id"], port))
        if _POD_ID.match(raw):
            return cls("runpod", raw, runpod_url(raw))
        if "://" not in raw:
            if ":" not in raw and "." not in raw and raw != "localhost":
                raise _unknown_form(raw)
            raw_url = f"http://{raw}"
        else:
            raw_url = raw
        return cls._from_url(raw, raw_url)

    @classmethod
    def _from_url(cls, raw: str, url: str) -> Target:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise _unknown_form(raw)
        host = parts.hostname
        if host.endswith(".runpod.io") and parts.port:
            pod_id = host.split(".", 1)[0]
            raise TargetError(
                f"{raw!r} looks like a RunPod address with a port, which RunPod does not "
                f"serve. RunPod exposes HTTP ports through its proxy: use "
                f"{runpod_url(pod_id, parts.port)} (or just the pod id {pod_id!r}).",
                target=raw,
            )
        try:
            port = parts.port
        except ValueError as exc:
            raise TargetError(f"{raw!r} has an invalid port: {exc}.", target=raw) from exc
        netloc = f"[{host}]" if ":" in host else host
        if port is not None:
            netloc += f":{port}"
        path = parts.path.rstrip("/")
        kind: TargetKind = "runpod" if host.endswith(RUNPOD_PROXY_SUFFIX) else "url"
        return cls(kind, raw, f"{parts.scheme}://{netloc}{path}")

    @classmethod
    def _hosted(cls, raw: str, rest: str) -> Target:
        if not rest:
            return cls("daydream", raw, DAYDREAM_API_URL)
        if rest.lower() == SIM:
            return cls("daydream", raw, None)
        if "://" not in rest:
            raise TargetError(f"{raw!r}: after 'daydream:' give nothing (the hosted API), 'sim', or a "
                              "base URL such as http://127.0.0.1:8000.", target=raw)
        return cls("daydream", raw, cls._from_url(raw, rest).url)

    @property
    def host(self) -> str | None:
        """The host name or address of the URL (None for ``sim`` before it starts)."""
        return urlsplit(self.url).hostname if self.url else None

    @property
    def is_loopback(self) -> bool:
        """True when traffic stays on this machine (the simulator, localhost, 127.x, ::1)."""
        return self.url is None or is_loopback_host(self.host or "")

    @property
    def runpod_port(self) -> int | None:
        """The pod port a RunPod proxy URL points at (Scope's is 8000), else None."""
        match = _RUNPOD_PROXY_HOST.match(self.host or "")
        return int(match["port"]) if match else None


def is_loopback_host(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _unknown_form(raw: str) -> TargetError:
    return TargetError(
        f"Cannot tell what server {raw!r} means. Give a URL (http://127.0.0.1:8000, "
        "https://<pod-id>-8000.proxy.runpod.net), a RunPod pod id (e.g. gbc63llq1zdxki, "
        "or runpod:<id>:<port>), 'sim' for the built-in simulator, or 'daydream:' for "
        "Daydream's hosted API.",
        target=raw,
    )
