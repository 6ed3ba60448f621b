"""What a Scope host keeps for its user between requests: stored API keys and onboarding.

A real server stores these on disk; the simulator keeps them in memory until ``/sim/reset``
(a ``/api/v1/restart`` keeps them, as files survive a restart). Key values are never
reported back, only whether a key is set and where it comes from.
"""

from __future__ import annotations

from typing import Any

from lab.sim.errors import RouteError

__all__ = ["KEY_SERVICES", "KeyStore", "Onboarding"]

KEY_SERVICES = ("huggingface", "civitai")


class KeyStore:
    """API keys stored through ``PUT /api/v1/keys/{service_id}``.

    Parameters
    ----------
    env_set
        Services whose environment variable is set: their keys cannot be stored or removed
        (409), as in Scope.
    """

    def __init__(self, env_set: frozenset[str]) -> None:
        self.env_set = env_set
        self._stored: dict[str, str] = {}

    @property
    def stored(self) -> frozenset[str]:
        """Services with a stored key."""
        return frozenset(self._stored)

    def set(self, service_id: str, value: str) -> dict[str, Any]:
        """Store a key (the body's ``value`` is checked non-empty by the route)."""
        self._check(service_id)
        self._stored[service_id] = value
        return {"success": True, "message": f"API key for {service_id} saved"}

    def delete(self, service_id: str) -> dict[str, Any]:
        """Remove a stored key; 404 when none is stored."""
        self._check(service_id)
        if self._stored.pop(service_id, None) is None:
            raise RouteError(404, f"No stored API key for {service_id}")
        return {"success": True, "message": f"API key for {service_id} removed"}

    def _check(self, service_id: str) -> None:
        if service_id not in KEY_SERVICES:
            raise RouteError(404, f"Unknown service: {service_id}")
        if service_id in self.env_set:
            raise RouteError(409, f"The API key for {service_id} is set by an environment "
                                  "variable; unset it to manage the key here")


class Onboarding:
    """The onboarding answers; an update merges its non-null fields."""

    def __init__(self) -> None:
        self._state: dict[str, Any] = {"completed": False, "inference_mode": None,
                                       "onboarding_style": None, "referral_source": None,
                                       "use_case": None}

    def status(self) -> dict[str, Any]:
        """The ``GET /api/v1/onboarding/status`` body."""
        return dict(self._state)

    def update(self, changes: dict[str, Any]) -> dict[str, Any]:
        """Merge non-null fields and return the new status."""
        self._state.update({k: v for k, v in changes.items() if v is not None})
        return self.status()
