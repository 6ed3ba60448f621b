"""Rewrite only the managed parts of a markdown file; every other byte stays as it was.

Managed parts are of two kinds:

- **tables**, wrapped in ``<!-- scope-lab:begin KEY -->`` ... ``<!-- scope-lab:end KEY -->``.
  The first time, a table is found by its header row (the research log's own tables have
  no markers) and wrapped; afterwards the markers find it, wherever a human moved it;
- **answers**: a checkbox line ``- [ ] question`` becomes
  ``- [x] question → answer <!-- scope-lab:answer KEY -->``. A line ticked by hand (no
  marker) is never touched; a question the data cannot answer is left as it is.

Line endings are kept line by line (inserted lines use the file's dominant ending), so an
update that changes no managed content leaves the file byte for byte unchanged, and a
second update with the same runs changes nothing (the rendering is deterministic).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["TableBlock", "AnswerLine", "UpdateResult", "update_markdown", "update_file", "split_cells",
           "render_table", "escape_cell", "MARK"]

MARK = "scope-lab"
ARROW = " → "
_CHECKBOX = re.compile(r"^(?P<indent>\s*[-*+]\s+)\[(?P<mark>[ xX])\]\s+(?P<rest>.*?)\s*$")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(?P<title>.*?)\s*#*\s*$")

Rows = list[list[str]]


def begin_marker(key: str) -> str:
    return f"<!-- {MARK}:begin {key} (filled by `lab report`; edits inside are replaced) -->"


def end_marker(key: str) -> str:
    return f"<!-- {MARK}:end {key} -->"


def answer_marker(key: str) -> str:
    return f"<!-- {MARK}:answer {key} -->"


@dataclass(frozen=True)
class TableBlock:
    """A managed table: its key, the header that finds it, and how to build it.

    ``build`` gets the rows of the table as it stands in the file (None if absent; human
    cells such as the Nexus reference column are read from there) and returns the new
    rows and a caption line.
    """

    key: str
    header: tuple[str, ...]
    build: Callable[[Rows | None], tuple[Rows, str]]


@dataclass(frozen=True)
class AnswerLine:
    """An answer for the checkbox line asking ``question`` under a heading containing ``section``."""

    key: str
    question: str
    answer: str
    section: str = ""


@dataclass
class UpdateResult:
    """What an update did: tables rewritten or not found, questions answered."""

    changed: bool = False
    tables: list[str] = field(default_factory=list)
    missing_tables: list[str] = field(default_factory=list)
    answered: list[str] = field(default_factory=list)


def escape_cell(text: str) -> str:
    """A table cell: pipes escaped, on one line."""
    return " ".join(str(text).split()).replace("|", "\\|")


def split_cells(line: str) -> list[str]:
    """The cells of a markdown table row (escaped pipes kept inside cells)."""
    body = line.strip()
    if body.startswith("|"):
        body = body[1:]
    if body.endswith("|") and not body.endswith("\\|"):
        body = body[:-1]
    return [cell.strip() for cell in re.split(r"(?<!\\)\|", body)]


def render_table(header: Sequence[str], rows: Rows) -> list[str]:
    """Markdown table lines (without line endings)."""
    lines = ["| " + " | ".join(escape_cell(h) for h in header) + " |",
             "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(escape_cell(c) for c in row) + " |" for row in rows]
    return lines


def _is_separator(cells: list[str]) -> bool:
    return all(re.fullmatch(r":?-{1,}:?", c) for c in cells if c) and any(cells)


def _parse_rows(lines: list[str]) -> Rows:
    rows = [split_cells(line) for line in lines if line.lstrip().startswith("|")]
    return [r for r in rows[1:] if not _is_separator(r)]  # drop the header and the separator


def _normal(cells: Sequence[str]) -> list[str]:
    return [re.sub(r"\s+", " ", c).strip().lower() for c in cells]


def _table_at(lines: list[str], header: tuple[str, ...]) -> tuple[int, int] | None:
    """(first, last+1) of the unmarked table whose header row matches."""
    for index, line in enumerate(lines):
        if line.lstrip().startswith("|") and _normal(split_cells(line)) == _normal(header):
            end = index
            while end < len(lines) and lines[end].lstrip().startswith("|"):
                end += 1
            return index, end
    return None


def _marked_at(lines: list[str], key: str) -> tuple[int, int] | None:
    """(begin marker, end marker) line indexes of a managed block."""
    begin = next((i for i, line in enumerate(lines) if f"{MARK}:begin {key} " in line or
                  line.strip() == f"<!-- {MARK}:begin {key} -->"), None)
    if begin is None:
        return None
    end = next((i for i in range(begin + 1, len(lines)) if end_marker(key) in lines[i]), None)
    return (begin, end) if end is not None else None


def _body(line: str) -> str:
    return line.rstrip("\r\n")


def _ending(line: str) -> str:
    return line[len(_body(line)):]


def _lines(text: str) -> list[str]:
    """Lines with their endings; joined back they are exactly ``text``."""
    parts = text.split("\n")
    return [part + "\n" for part in parts[:-1]] + ([parts[-1]] if parts[-1] else [])


def _table_lines(block: TableBlock, existing: Rows | None) -> list[str]:
    rows, caption = block.build(existing)
    lines = [begin_marker(block.key), *render_table(block.header, rows)]
    if caption:
        lines += ["", caption]
    return [*lines, end_marker(block.key)]


def _update_table(lines: list[str], block: TableBlock, newline: str, result: UpdateResult) -> list[str]:
    bodies = [_body(line) for line in lines]
    marked = _marked_at(bodies, block.key)
    if marked is not None:
        begin, end = marked
        existing = _parse_rows(bodies[begin + 1:end])
        last_ending = _ending(lines[end])
    else:
        found = _table_at(bodies, block.header)
        if found is None:
            result.missing_tables.append(block.key)
            return lines
        begin, stop = found
        end = stop - 1
        existing = _parse_rows(bodies[begin:stop])
        last_ending = _ending(lines[end])
    new = _table_lines(block, existing)
    replacement = [line + newline for line in new[:-1]] + [new[-1] + last_ending]
    result.tables.append(block.key)
    return [*lines[:begin], *replacement, *lines[end + 1:]]


def _update_answers(lines: list[str], answers: Sequence[AnswerLine], result: UpdateResult) -> list[str]:
    section = ""
    out = []
    for line in lines:
        body = _body(line)
        heading = _HEADING.match(body)
        if heading:
            section = heading.group("title")
        out.append(_answered(line, body, section, answers, result))
    return out


def _answered(line: str, body: str, section: str, answers: Sequence[AnswerLine], result: UpdateResult) -> str:
    box = _CHECKBOX.match(body)
    if box is None:
        return line
    rest = box.group("rest")
    for answer in answers:
        marker = answer_marker(answer.key)
        if marker in rest:
            question = rest.split(ARROW, 1)[0].strip() if ARROW in rest else answer.question
        elif (box.group("mark") == " " and answer.section.lower() in section.lower()
              and (rest == answer.question or rest.startswith(answer.question + " "))):
            question = answer.question
        else:
            continue
        result.answered.append(answer.key)
        return f"{box.group('indent')}[x] {question}{ARROW}{answer.answer} {marker}" + line[len(body):]
    return line


def update_markdown(text: str, tables: Sequence[TableBlock], answers: Sequence[AnswerLine]) -> tuple[str, UpdateResult]:
    """The text with its managed tables and answers rewritten; everything else kept."""
    result = UpdateResult()
    newline = "\r\n" if text.count("\r\n") * 2 > text.count("\n") else "\n"
    lines = _lines(text)
    for block in tables:
        lines = _update_table(lines, block, newline, result)
    lines = _update_answers(lines, answers, result)
    new = "".join(lines)
    result.changed = new != text
    return new, result


def update_file(path: Path | str, tables: Sequence[TableBlock], answers: Sequence[AnswerLine]) -> UpdateResult:
    """Update a markdown file in place; it is rewritten (atomically) only if something changed."""
    path = Path(path)
    text = path.read_bytes().decode("utf-8")
    new, result = update_markdown(text, tables, answers)
    if result.changed:
        temporary = path.with_name(path.name + ".tmp")
        temporary.write_bytes(new.encode("utf-8"))
        os.replace(temporary, path)
    return result
