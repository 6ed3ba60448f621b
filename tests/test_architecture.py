"""The layer picture in ARCHITECTURE.md stays true: imports point down, packages form no
cycle, every unit has a layer, and a long module has a stated reason."""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "lab"
ARCHITECTURE = ROOT / "ARCHITECTURE.md"
LONG_MODULE_LINES = 350


@dataclass(frozen=True)
class Layers:
    rank: dict[str, int]  # unit -> rank, 0 at the bottom
    group: dict[str, str]  # unit -> the group's name (units of one rank in different groups are apart)


def read_layers(text: str) -> Layers:
    """Parse the ```layers block: one line per rank, top first, groups of a rank joined by '|'."""
    block = re.search(r"```layers\n(.*?)```", text, re.S)
    assert block, "ARCHITECTURE.md has no ```layers block"
    lines = [line for line in block.group(1).splitlines() if line.strip()]
    rank: dict[str, int] = {}
    group: dict[str, str] = {}
    for position, line in enumerate(reversed(lines)):
        for part in line.split("|"):
            name, _, units = part.partition(":")
            for unit in units.split():
                assert unit not in rank, f"{unit} appears twice in the layers block"
                rank[unit], group[unit] = position, name.strip()
    return Layers(rank, group)


def unit_of(module: str) -> str:
    """lab.measure.run -> measure; lab.client -> client; lab -> lab."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "lab"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(path: Path) -> set[str]:
    """Every lab module ``path`` imports, wherever the import statement is."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            # `from lab import resources` imports the module lab.resources, not lab's __init__
            if module == "lab":
                found.update(f"lab.{alias.name}" for alias in node.names
                             if (PACKAGE / f"{alias.name}.py").exists() or (PACKAGE / alias.name).is_dir())
                found.update("lab" for alias in node.names
                             if not ((PACKAGE / f"{alias.name}.py").exists() or (PACKAGE / alias.name).is_dir()))
            else:
                found.add(module)
    return {m for m in found if m == "lab" or m.startswith("lab.")}


def unit_edges() -> dict[tuple[str, str], list[str]]:
    """(importer unit, imported unit) -> the files that make the edge."""
    edges: dict[tuple[str, str], list[str]] = defaultdict(list)
    for path in sorted(PACKAGE.rglob("*.py")):
        source = unit_of(module_name(path))
        for module in imported_modules(path):
            target = unit_of(module)
            if target != source:
                edges[(source, target)].append(str(path.relative_to(ROOT)))
    return edges


def all_units() -> set[str]:
    units = {p.stem for p in PACKAGE.glob("*.py") if p.name != "__init__.py"}
    units |= {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()}
    return units | {"lab"}


@pytest.fixture(scope="module")
def layers() -> Layers:
    return read_layers(ARCHITECTURE.read_text())


def upward(edges: dict[tuple[str, str], list[str]], layers: Layers) -> dict[tuple[str, str], list[str]]:
    """Edges to a higher rank, or across groups of one rank."""
    bad = {}
    for (source, target), files in edges.items():
        if source not in layers.rank or target not in layers.rank:
            continue  # reported by test_every_unit_has_a_layer
        higher = layers.rank[target] > layers.rank[source]
        beside = layers.rank[target] == layers.rank[source] and layers.group[target] != layers.group[source]
        if higher or beside:
            bad[(source, target)] = files
    return bad


def test_every_unit_has_a_layer(layers: Layers) -> None:
    missing = sorted(all_units() - set(layers.rank))
    stale = sorted(set(layers.rank) - all_units())
    assert not missing, f"add these to ARCHITECTURE.md's layers block: {missing}"
    assert not stale, f"ARCHITECTURE.md's layers block names units that no longer exist: {stale}"


def test_imports_point_down(layers: Layers) -> None:
    bad = upward(unit_edges(), layers)
    assert not bad, "imports that point up a layer (or across to a unit beside): " + "; ".join(
        f"{a} -> {b} in {', '.join(files)}" for (a, b), files in sorted(bad.items()))


def test_packages_form_no_cycle() -> None:
    graph: dict[str, set[str]] = defaultdict(set)
    for source, target in unit_edges():
        graph[source].add(target)
    cycles = _cycles(graph)
    assert not cycles, "import cycles between units: " + "; ".join(" -> ".join(c) for c in cycles)


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle through each strongly connected component that has one (Tarjan, iterative depth first)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(start: str) -> None:
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        components.append(sorted(component))
            elif child not in index:
                index[child] = low[child] = len(index)
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(graph[child]))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])

    for node in sorted(list(graph)):
        if node not in index:
            visit(node)
    return components


def test_long_modules_state_their_reason() -> None:
    text = ARCHITECTURE.read_text()
    section = text.split("## Long modules", 1)[1] if "## Long modules" in text else ""
    excused = set(re.findall(r"^- `(lab/[\w/]+\.py)`: \S", section, re.M))
    long = {str(p.relative_to(ROOT)): len(p.read_text().splitlines()) for p in PACKAGE.rglob("*.py")}
    unexcused = {p: n for p, n in long.items() if n > LONG_MODULE_LINES and p not in excused}
    assert not unexcused, (f"modules over {LONG_MODULE_LINES} lines without a reason under ARCHITECTURE.md's "
                           f"'Long modules': {dict(sorted(unexcused.items()))}")
    assert not {p for p in excused if long.get(p, 0) <= LONG_MODULE_LINES}, "ARCHITECTURE.md excuses modules that are short now"


def test_the_checks_catch_what_they_are_for() -> None:
    """The parser and the rule on a made-up picture: an upward edge and a sideways one are caught."""
    layers = read_layers("```layers\ntop: a\nmid: b | side: s\nlow: c\n```")
    assert layers.rank == {"a": 2, "b": 1, "s": 1, "c": 0}
    edges = {("c", "b"): ["c.py"], ("b", "s"): ["b.py"], ("a", "c"): ["a.py"], ("b", "c"): ["b.py"]}
    assert set(upward(edges, layers)) == {("c", "b"), ("b", "s")}
    assert _cycles({"x": {"y"}, "y": {"x"}, "z": {"x"}}) == [["x", "y"]]
