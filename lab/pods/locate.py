"""Which RunPod pod, on which API, stands behind a target: what a cold start, a price and a
stop after a sweep need.

- a RunPod pod id or proxy URL (``https://<id>-8000.proxy.runpod.net``): that pod, on the
  API of ``RUNPOD_API_KEY`` and ``RUNPOD_API_BASE_URL``;
- ``sim``, or a simulator's URL on loopback: the simulator's emulated account at
  ``<simulator>/runpod``, with the key it is started with by default (a fake), and its home
  pod (``/runpod/proxy/<id>-8000`` names another of its pods);
- anything else (a local GPU box, Daydream's hosted API): no pod.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from lab.pods.api import PodApi
from lab.target import Target

__all__ = ["PodRef", "pod_behind"]

_PROXY_HOST = re.compile(r"^(?P<id>[a-z0-9]+)-\d{1,5}\.proxy\.runpod\.net$")
_SIM_PROXY_PATH = re.compile(r"^/runpod/proxy/(?P<id>[a-z0-9]+)-\d{1,5}")


@dataclass(frozen=True)
class PodRef:
    """A pod and the API that controls it."""

    api: PodApi
    pod_id: str

    @property
    def scope_url(self) -> str:
        return self.api.scope_url(self.pod_id)


async def pod_behind(target: str | Target) -> PodRef | None:
    """The pod serving ``target``, or None when it is not a RunPod pod (nor the simulator's).

    ``sim`` starts the shared simulator (:func:`lab.connect.target_url`). A RunPod target
    needs ``RUNPOD_API_KEY`` (:class:`~lab.pods.PodAuthError` without it).
    """
    parsed = target if isinstance(target, Target) else Target.parse(target)
    if parsed.kind == "sim":
        from lab.connect import target_url

        return _simulator_pod(parsed.url or await target_url(parsed))
    if parsed.kind == "runpod" and parsed.host:
        match = _PROXY_HOST.match(parsed.host)
        return PodRef(PodApi(), match["id"]) if match else None
    if parsed.kind == "url" and parsed.url and parsed.is_loopback:
        return _simulator_pod(parsed.url)
    return None


def _simulator_pod(url: str) -> PodRef:
    from lab.sim.runpod.config import HOME_POD_ID, RunpodSimConfig  # only for a simulator: its stack is heavy

    parts = urlsplit(url)
    proxied = _SIM_PROXY_PATH.match(parts.path)
    api = PodApi(api_key=RunpodSimConfig().api_key, api_url=f"{parts.scheme}://{parts.netloc}/runpod")
    return PodRef(api, proxied["id"] if proxied else HOME_POD_ID)
