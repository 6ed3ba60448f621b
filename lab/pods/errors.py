"""What can go wrong controlling RunPod pods: each error says what was tried and what to do.

They live beside :mod:`lab.pods` (as the store's ``StoreError`` lives beside the store) and
derive from :class:`lab.errors.LabError`, so ``lab`` turns them into exit code 2 and a line on
stderr. No message ever holds the API key: :class:`PodError` scrubs it from any text the API
or the network library sent back.

Hierarchy::

    LabError
    └── PodError                   a RunPod API request failed (``action``, ``pod_id``)
        ├── RunpodExtraMissingError    the runpod SDK is not installed (scope-lab[runpod])
        ├── PodAuthError               RUNPOD_API_KEY missing, or the API refused it
        ├── PodApiUnreachableError     no answer from the API (network, wrong address)
        ├── PodNotFoundError           no such pod among the key's pods (or another account's)
        ├── TemplateNotFoundError      the template id is unknown to RunPod
        ├── GpuNotOfferedError         the GPU type is not offered, or has under 24 GB
        ├── NoCapacityError            no GPU free for this pod or GPU type right now
        └── PodBusyError               a stop refused: a sweep still runs on the pod
"""

from __future__ import annotations

from lab.errors import LabError

__all__ = ["GpuNotOfferedError", "NoCapacityError", "PodApiUnreachableError", "PodAuthError", "PodBusyError",
           "PodError", "PodNotFoundError", "RunpodExtraMissingError", "TemplateNotFoundError"]


class PodError(LabError):
    """A RunPod API request failed; ``action`` is what was tried, ``pod_id`` the pod if any."""

    def __init__(self, message: str, *, action: str, pod_id: str | None = None) -> None:
        super().__init__(message)
        self.action = action
        self.pod_id = pod_id


class RunpodExtraMissingError(PodError, ImportError):
    """The ``runpod`` SDK is not installed: the optional extra ``scope-lab[runpod]``."""


class PodAuthError(PodError):
    """No API key in ``RUNPOD_API_KEY``, or the API refused the one given."""


class PodApiUnreachableError(PodError):
    """The API gave no answer (DNS, refused, dropped, timeout) or not RunPod's."""


class PodNotFoundError(PodError):
    """The pod is not among the key's pods: no such id, or another account's pod."""


class TemplateNotFoundError(PodError):
    """RunPod knows no template with this id."""


class GpuNotOfferedError(PodError):
    """The GPU type is not one RunPod offers, or has too little memory for Scope."""


class NoCapacityError(PodError):
    """RunPod has no GPU free for the pod (resume) or the GPU type (create) right now."""


class PodBusyError(PodError):
    """A stop was refused because a sweep still runs on the pod; ``run_ids`` names them."""

    def __init__(self, message: str, *, pod_id: str, run_ids: list[str]) -> None:
        super().__init__(message, action="stop", pod_id=pod_id)
        self.run_ids = run_ids
