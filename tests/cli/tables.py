"""Reading rendered report tables back, to check what a person sees: nothing cut with an
ellipsis, no line wider than the terminal, every value whole (wrapped or folded onto the
next lines of its column, but complete)."""

from __future__ import annotations

import io
import re
from collections.abc import Iterable

from rich.console import Console
from rich.table import Table

__all__ = [
    "MOMENT",
    "MONEY",
    "PERCENT",
    "assert_readable",
    "column_text",
    "columns_shown",
    "render",
]

#: The one money format: ``12,500.00 CNY``.
MONEY = re.compile(r"^-?\d{1,3}(,\d{3})*\.\d{2} [A-Z]{3}$")
#: The one ratio format: ``124.98 %``.
PERCENT = re.compile(r"^-?\d{1,3}(,\d{3})*\.\d{2} %$")
#: The one time format: ``2026-03-31 18:00 +08:00``.
MOMENT = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2} [+-]\d{2}:\d{2}$")


def render(table: Table, width: int = 80) -> str:
    """``table`` as a terminal of ``width`` columns shows it (plain text)."""
    console = Console(width=width, record=True, file=io.StringIO(), color_system=None)
    console.print(table)
    return console.export_text()


def column_text(text: str, index: int) -> str:
    """Everything column ``index`` of a rendered table shows in its body, line after line,
    without the spaces: a value wrapped or folded over several lines reads whole again."""
    parts = [line.split("│")[1:-1][index] for line in text.splitlines()
             if line.startswith("│")]
    return "".join("".join(part.split()) for part in parts)


def columns_shown(text: str) -> list[str]:
    """:func:`column_text` of every column of every table in ``text`` (a command's output)."""
    shown: list[str] = []
    body: list[str] = []
    for line in [*text.splitlines(), ""]:
        if line.startswith(("│", "├")):
            body.append(line)
            continue
        if body:
            rows = "\n".join(body)
            width = len(body[0].split("│")) - 2
            shown += [column_text(rows, index) for index in range(width)]
            body = []
    return shown


def assert_readable(table: Table, width: int = 80,
                    columns: Iterable[int] | None = None) -> str:
    """Render ``table`` at ``width``: no ellipsis, no line wider than ``width``, and every
    cell of ``columns`` (default: all) whole in its column. Returns the text."""
    text = render(table, width)
    assert "…" not in text, text
    assert max(len(line) for line in text.splitlines()) <= width, text
    for index in range(len(table.columns)) if columns is None else columns:
        shown = column_text(text, index)
        for cell in table.columns[index].cells:
            value = "".join(str(getattr(cell, "plain", cell)).split())
            assert value in shown, (table.columns[index].header, value, text)
    return text
