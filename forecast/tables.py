"""The one table renderer: fixed-width text for terminals and logs, Markdown for report files."""

from __future__ import annotations

from collections.abc import Sequence


def cell(value: object, digits: int = 4) -> str:
    """Floats with `digits` decimals, None as n/a, everything else as str."""
    if value is None:
        return "n/a"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def text(columns: Sequence[str], rows: Sequence[Sequence[object]], digits: int = 4) -> str:
    """Columns sized to fit; the first left-aligned (labels), the others right-aligned (numbers).

    Args:
        columns: header names.
        rows: one sequence of cells per row, as long as `columns`.
        digits: decimals for float cells.

    Returns:
        The table as lines joined by newlines, no trailing newline.
    """
    cells = [[cell(v, digits) for v in row] for row in rows]
    widths = [max(len(c) for c in col) for col in zip(columns, *cells, strict=True)]

    def line(values: Sequence[str]) -> str:
        first = values[0].ljust(widths[0])
        rest = "".join("  " + v.rjust(w) for v, w in zip(values[1:], widths[1:], strict=True))
        return (first + rest).rstrip()

    return "\n".join([line(list(columns)), *(line(r) for r in cells)])


def markdown(columns: Sequence[str], rows: Sequence[Sequence[object]], digits: int = 4) -> str:
    """A GitHub-flavoured Markdown table (no trailing newline)."""
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(v, digits) for v in row) + " |" for row in rows]
    return "\n".join(lines)
