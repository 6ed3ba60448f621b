"""A table kept as one list per column, appended row by row: the shape of every ground truth."""

from __future__ import annotations

from typing import Any

__all__ = ["Columns"]


class Columns:
    """A table kept as one list per column, appended row by row."""

    def __init__(self, *names: str) -> None:
        self._columns: dict[str, list[Any]] = {name: [] for name in names}

    def __len__(self) -> int:
        return len(next(iter(self._columns.values())))

    def append(self, **row: Any) -> None:
        """Add a row; every column must be given."""
        for name, column in self._columns.items():
            column.append(row[name])

    def set_last(self, name: str, value: Any) -> None:
        """Set one column of the last row."""
        self._columns[name][-1] = value

    def to_json(self) -> dict[str, list[Any]]:
        """The columns as lists (copies)."""
        return {name: list(column) for name, column in self._columns.items()}
