"""The deploy check's report: its rows, the exit code they add up to, and its renderings
(terminal text, a coloured notebook table, and the JSON of ``lab doctor --json``)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import pandas as pd

from lab.overview import SIMULATED_LABEL

__all__ = ["Check", "DoctorReport", "REPORT_SCHEMA", "Status", "EXIT_PASS", "EXIT_WARN", "EXIT_FAIL"]

Status = Literal["pass", "warn", "fail", "skip"]
EXIT_PASS, EXIT_WARN, EXIT_FAIL = 0, 1, 2
_RANK = {"skip": EXIT_PASS, "pass": EXIT_PASS, "warn": EXIT_WARN, "fail": EXIT_FAIL}
_VERDICTS = {EXIT_PASS: "ready", EXIT_WARN: "usable, with warnings", EXIT_FAIL: "not ready"}
_MARKS = {"pass": "PASS", "warn": "WARN", "fail": "FAIL", "skip": "skip"}
_COLOURS = {"pass": "#d9f2d9", "warn": "#fff2cc", "fail": "#f8d0d0", "skip": "#eeeeee"}


# The JSON report's schema (``lab doctor --json``): the same content as the table.
REPORT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["target", "url", "simulated", "source", "exit_code", "checks"],
    "additionalProperties": False,
    "properties": {
        "target": {"type": "string"},
        "url": {"type": ["string", "null"]},
        "simulated": {"type": "boolean"},
        "source": {"type": "string"},
        "exit_code": {"enum": [0, 1, 2]},
        "checks": {"type": "array", "items": {
            "type": "object",
            "required": ["name", "status", "value", "remedy", "elapsed_ms"],
            "additionalProperties": False,
            "properties": {
                "name": {"type": "string"},
                "status": {"enum": ["pass", "warn", "fail", "skip"]},
                "value": {"type": "string"},
                "remedy": {"type": ["string", "null"]},
                "elapsed_ms": {"type": ["number", "null"]},
            },
        }},
    },
}


@dataclass(frozen=True)
class Check:
    """One row of the report."""

    name: str
    status: Status
    value: str
    remedy: str | None = None
    elapsed_ms: float | None = None


@dataclass
class DoctorReport:
    """All checks of one run, in order, and what they add up to."""

    target: str
    url: str | None = None
    simulated: bool = False
    checks: list[Check] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        """0 pass, 1 warn, 2 fail (the worst check)."""
        return max((_RANK[c.status] for c in self.checks), default=EXIT_PASS)

    @property
    def verdict(self) -> str:
        """``ready``, ``usable, with warnings`` or ``not ready``: the exit code in words."""
        return _VERDICTS[self.exit_code]

    def text(self) -> str:
        """The report as ``lab doctor`` prints it: a heading, one line per check (and its remedy), the verdict."""
        label = " [SIMULATED]" if self.simulated else ""
        lines = [f"lab doctor {self.target} -> {self.url or '?'}{label}", ""]
        for check in self.checks:
            timing = f"{check.elapsed_ms:7.0f} ms" if check.elapsed_ms is not None else " " * 10
            lines.append(f"  {_MARKS[check.status]}  {check.name:<14} {timing}  {check.value}")
            if check.remedy:
                lines.append(f"        -> {check.remedy}")
        return "\n".join([*lines, "", f"{self.verdict} (exit {self.exit_code})"])

    def table(self) -> pd.DataFrame:
        """The checks as a table (status, value, remedy)."""
        return pd.DataFrame([asdict(c) for c in self.checks])

    def styled(self) -> Any:
        """The table coloured by status, for notebooks (a pandas Styler)."""
        table = self.table().fillna({"remedy": ""})
        caption = f"lab doctor {self.target} ({self.url}){' [SIMULATED]' if self.simulated else ''}: exit {self.exit_code}"
        return (table.style.hide(axis="index").set_caption(caption)
                .map(lambda status: f"background-color: {_COLOURS[status]}", subset=["status"])
                .format({"elapsed_ms": lambda v: "" if pd.isna(v) else f"{v:.0f}"})
                .set_properties(**{"text-align": "left", "white-space": "pre-wrap"}))

    def as_dict(self) -> dict[str, Any]:
        """The report for ``--json``: the same content as the table."""
        return {"target": self.target, "url": self.url, "simulated": self.simulated,
                "source": SIMULATED_LABEL if self.simulated else "real server",
                "exit_code": self.exit_code, "checks": [asdict(c) for c in self.checks]}
