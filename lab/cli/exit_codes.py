"""The exit codes the ``lab`` subcommands return (which subcommand returns which: :mod:`lab.cli`).

``lab doctor`` returns its report's own code (:data:`lab.doctor.EXIT_PASS`, ``EXIT_WARN``,
``EXIT_FAIL``: 0, 1, 2), which agrees with these.
"""

from __future__ import annotations

__all__ = ["EXIT_OK", "EXIT_REGRESSIONS", "EXIT_ERROR", "EXIT_INTERRUPTED"]

EXIT_OK = 0
EXIT_REGRESSIONS = 1  # lab compare: run B regressed against run A
EXIT_ERROR = 2
EXIT_INTERRUPTED = 130
