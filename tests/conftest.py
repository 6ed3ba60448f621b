"""Shared fixtures: paths to Scope's captured responses and the simulator."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from lab.client import ScopeClient
from lab.http import RetryPolicy
from lab.resources import SCOPE_OPENAPI, SCOPE_PIPELINE_SCHEMAS
from lab.sim import RunningSimulator, SimConfig, start_simulator
from tests import udp_guard

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "scope-0.2.4"


# The two captured documents the workbench itself needs (the log's API answers) ship as package
# data; the other captured responses are test fixtures only.
SHIPPED_CAPTURES = {"openapi.json": SCOPE_OPENAPI, "pipelines_schemas.json": SCOPE_PIPELINE_SCHEMAS}


def load_fixture(name: str) -> Any:
    """A response captured from a real Scope 0.2.4 server (see tests/fixtures/scope-0.2.4/README.md)."""
    return json.loads(SHIPPED_CAPTURES.get(name, FIXTURES / name).read_text())


def pytest_configure(config: pytest.Config) -> None:
    """Fail a test that leaves a UDP socket open in that test (see tests/udp_guard.py)."""
    udp_guard.install(config)


SIM_SPEED = 100.0  # emulated loads and downloads run 100x faster than the real-time profile


class SimControl:
    """Drives the simulator's /sim/ control API from tests."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._http = httpx.Client(base_url=url, timeout=10)

    def reset(self) -> None:
        self._http.post("/sim/reset").raise_for_status()

    def fault(self, kind: str, **fields: Any) -> None:
        self._http.post("/sim/faults", json={"kind": kind, **fields}).raise_for_status()

    def faults(self) -> list[dict[str, Any]]:
        return self.state()["faults"]

    def state(self) -> dict[str, Any]:
        response = self._http.get("/sim/state")
        response.raise_for_status()
        return response.json()

    def truth(self, session_id: str | None) -> dict[str, Any]:
        """The simulator's ground truth of one session (frames, chunks, messages as columns)."""
        response = self._http.get(f"/sim/sessions/{session_id}/truth")
        response.raise_for_status()
        return response.json()

    def put(self, path: str, body: Any) -> None:
        self._http.put(path, json=body).raise_for_status()

    def close(self) -> None:
        self._http.close()


@pytest.fixture(scope="session")
def sim_server() -> Iterator[RunningSimulator]:
    """One simulator process for the whole session (reset before each test that uses it)."""
    with start_simulator(SimConfig(speed=SIM_SPEED)) as running:
        yield running


def reset_control(server: RunningSimulator) -> Iterator[SimControl]:
    """A fixture's body: ``server`` reset to its startup state, with its control API."""
    control = SimControl(server.url)
    control.reset()
    yield control
    control.close()


@pytest.fixture
def sim(sim_server: RunningSimulator) -> Iterator[SimControl]:
    """The session simulator, reset to its startup state, with its control API."""
    yield from reset_control(sim_server)


@pytest.fixture
async def client(sim: SimControl) -> AsyncIterator[ScopeClient]:
    """A client of the reset simulator that polls fast and retries quickly."""
    retry = RetryPolicy(attempts=3, budget_s=5, initial_backoff_s=0.01, max_backoff_s=0.05)
    async with ScopeClient(sim.url, poll_interval_s=0.01, retry=retry) as scope:
        yield scope
