"""``python -m lab.cli``: the ``lab`` command line (subcommands in :mod:`lab.cli`)."""

from __future__ import annotations

from lab.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
