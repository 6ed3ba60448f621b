"""What the checks of one doctor run share: the report they add to, and what earlier checks
found (the client, health, OpenAPI document, schemas, VRAM, inputs) for later ones to use."""

from __future__ import annotations

from typing import Any

from lab.client import ScopeClient
from lab.doctor.report import Check, DoctorReport
from lab.inputs import PodInputs
from lab.models import Health, PipelineSchemas
from lab.target import Target

__all__ = ["DoctorRun"]


class DoctorRun:
    """State shared by the checks of one doctor run."""

    def __init__(self, report: DoctorReport, judge_as_remote: bool, deep: bool, stream: bool) -> None:
        self.report = report
        self.judge_as_remote = judge_as_remote
        self.deep = deep
        self.stream = stream
        self.target: Target | None = None
        self.client: ScopeClient | None = None
        self.health: Health | None = None
        self.openapi: dict[str, Any] | None = None
        self.schemas: PipelineSchemas | None = None
        self.vram_gb: float | None = None
        self.inputs: PodInputs | None = None
        self.log_offset: int | None = None  # the server log's end when the doctor reached it
        self.blocked_by: str | None = None

    def add(self, check: Check) -> None:
        self.report.checks.append(check)

    def skip(self, name: str) -> None:
        self.add(Check(name, "skip", f"not run: {self.blocked_by} failed"))
