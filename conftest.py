"""Settings for the whole test run (tests/ and the notebooks under nbval)."""

from __future__ import annotations

import os

# The notebooks' kernels start the shared simulator ("sim") themselves; its emulated loads
# and downloads run this many times faster than the profile's real-time values (streaming
# is always real time). Set LAB_SIM_SPEED yourself to override.
os.environ.setdefault("LAB_SIM_SPEED", "20")
