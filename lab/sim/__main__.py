"""``python -m lab.sim``: serve the simulator (options in :mod:`lab.sim.cli`)."""

from __future__ import annotations

from lab.sim.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
