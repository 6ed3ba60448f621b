"""The ``lab`` command line: thin subcommands over the library.

- :mod:`.app` — the parser and :func:`main` (the console script ``lab``; ``python -m lab.cli``);
- :mod:`.server` — ``lab info`` and ``lab doctor`` (one server);
- :mod:`.measure` — ``lab measure`` (one trial);
- :mod:`.runs` — ``lab sweep``, ``lab report`` and ``lab compare`` (runs in the results store);
- :mod:`.quality` — ``lab quality`` (a stored run scored again);
- :mod:`.exit_codes` — the codes below. ``lab sim`` is :mod:`lab.sim.cli`, ``lab demo`` :mod:`lab.demo`.

Exit codes:

- 0: success. ``lab doctor``: every check passed (or was skipped); ``lab compare``: no
  regression; ``lab sim``: a normal shutdown, Ctrl-C included (it runs until interrupted).
- 1: ``lab doctor``: a check warned and none failed (usable, with warnings); ``lab compare``:
  regressions found; ``lab sim``: the server could not start listening.
- 2: an error: a LabError in any subcommand (the message says what to do) or invalid
  arguments (argparse). Also ``lab doctor``: a check failed (not ready); ``lab measure``: the
  trial failed (its phase and message on stderr); ``lab quality``: the embedding model could
  not load (the model-free figures are still scored and written); ``lab demo``: the deploy
  check failed, so it stopped; ``lab sim``: invalid options or a non-loopback host without
  ``--allow-remote``.
- 130: interrupted with Ctrl-C (every subcommand but ``lab sim``).
"""

from __future__ import annotations

from lab.cli.app import build_parser, main
from lab.cli.exit_codes import EXIT_ERROR, EXIT_INTERRUPTED, EXIT_OK, EXIT_REGRESSIONS

__all__ = ["main", "build_parser", "EXIT_OK", "EXIT_REGRESSIONS", "EXIT_ERROR", "EXIT_INTERRUPTED"]
