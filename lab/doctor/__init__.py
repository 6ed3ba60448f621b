"""Deploy check: is this Scope server healthy and ready, and if not, what to do about it.

Checks run in order (:mod:`.run`); each says pass, warn, fail or skip, with the measured
value and, when not passing, a remedy: what was seen, the likely cause, the fix. A check that
cannot run because an earlier one failed is skipped and says which. The exit code of ``lab
doctor`` follows the worst status (:mod:`.report`): 0 pass (or skip), 1 warn, 2 fail.

- :mod:`.connection` — reaching the server: target, DNS, TCP, TLS, health, docs, API shape;
- :mod:`.pod_api` — for a RunPod pod with ``RUNPOD_API_KEY`` set, what RunPod's API says of it;
- :mod:`.readiness` — what it offers: VRAM, pipelines, models, plugins, inputs, TURN,
  a WebRTC round trip, and with ``deep`` a generative load;
- :mod:`.state` — what the checks of one run share;
- :mod:`.report` — the rows, the exit code, and the report as text, notebook table and JSON.

Nothing secret is ever put in a check: ICE server entries are summarised by their URLs,
and credentials are reduced to "present".

A failing check's remedy ends with the server's own log lines written since the doctor
reached it (warnings, errors, lines naming a pipeline; redacted), when the server serves
``/api/v1/logs/tail``: Scope reports many failures without a reason and logs the reason.
"""

from __future__ import annotations

from lab.doctor.readiness import MIN_VRAM_GB
from lab.doctor.report import EXIT_FAIL, EXIT_PASS, EXIT_WARN, REPORT_SCHEMA, Check, DoctorReport, Status
from lab.doctor.run import run_doctor

__all__ = ["Check", "DoctorReport", "REPORT_SCHEMA", "run_doctor", "MIN_VRAM_GB", "Status", "EXIT_PASS", "EXIT_WARN",
           "EXIT_FAIL"]
