"""``python -m lab.demo``: the demo without the ``lab`` command."""

import argparse
import sys

from lab.demo import __doc__ as DOC
from lab.demo import add_arguments, run

parser = argparse.ArgumentParser(prog="python -m lab.demo", description=(DOC or "").splitlines()[0])
add_arguments(parser)
sys.exit(run(parser.parse_args()))
