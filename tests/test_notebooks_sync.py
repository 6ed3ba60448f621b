"""The committed notebooks are exactly what ``tools/make_notebook.py`` generates.

The generator is the source of truth (its cell lists are what reviewers read in diffs), so a
hand edit to a notebook, or a definition changed without regenerating, fails here.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from tests.conftest import ROOT

NOTEBOOKS = ROOT / "notebooks"
GENERATOR = ROOT / "tools" / "make_notebook.py"
REGENERATE = f"run `python {GENERATOR.relative_to(ROOT)}` and commit notebooks/"


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The notebooks as the generator writes them, in a temp dir (the checkout is left alone)."""
    out = tmp_path_factory.mktemp("generated-notebooks")
    subprocess.run([sys.executable, str(GENERATOR), "--out", str(out)], check=True, timeout=60)
    return out


def _names(folder: Path) -> set[str]:
    return {path.name for path in folder.glob("*.ipynb")}


def test_every_committed_notebook_has_a_definition_and_vice_versa(generated: Path) -> None:
    assert _names(NOTEBOOKS) == _names(generated), REGENERATE


@pytest.mark.parametrize("name", sorted(_names(NOTEBOOKS)))
def test_committed_notebook_matches_the_generator(name: str, generated: Path) -> None:
    # Whole notebooks are compared: sources, cell types, ids, metadata and the expected outputs
    # of "checked" cells are all the generator's; committed notebooks carry no other outputs.
    if not (generated / name).exists():
        pytest.fail(f"{name} has no definition in {GENERATOR.name}: add one there or delete the notebook")
    committed = nbformat.read(NOTEBOOKS / name, as_version=4)
    expected = nbformat.read(generated / name, as_version=4)
    assert committed.metadata == expected.metadata, f"{name}: notebook metadata differs; {REGENERATE}"
    assert len(committed.cells) == len(expected.cells), f"{name}: cell count differs; {REGENERATE}"
    for index, (have, want) in enumerate(zip(committed.cells, expected.cells, strict=True)):
        assert have == want, f"{name}: cell {index} differs from the generator's; {REGENERATE}"
    assert committed == expected, f"{name}: differs from the generator's; {REGENERATE}"
