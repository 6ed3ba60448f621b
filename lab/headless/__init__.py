"""Scope's headless session, as a client uses it: start, steer over REST, read the output.

Modules::

    session  start/stop, parameter updates, the setup steps of each path, server-side input
    ts       the output.ts reader (MPEG-TS over HTTP, PyAV), with byte arrival times
    poll     the /session/frame poller (JPEG at a fixed rate, distinct frames counted)
"""

from __future__ import annotations

from lab.headless.poll import DEFAULT_POLL_HZ, PollCounts
from lab.headless.session import HEADLESS_VIAS, HeadlessSession, Via, server_input, setup_steps

__all__ = ["DEFAULT_POLL_HZ", "HEADLESS_VIAS", "HeadlessSession", "PollCounts", "Via", "server_input",
           "setup_steps"]
