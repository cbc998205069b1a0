"""How every report shows values to people (docs/cli.md, "Human output").

One format per kind of value, whatever the report: money ``12,500.00 CNY`` (thousands
separators, 2 decimals rounded half up, the currency after), ratios as a percent with 2
decimals (``124.98 %``, never with a currency), instants as ``2026-03-31 18:00 +08:00`` in
the zone the report is about, durations as ``3d 04:05:06``, counts as ``1,154``, ``-`` for
no value. JSON never goes through this module: it keeps exact values.

:class:`ReportTable` is the table every report prints: no cell is ever cut with an
ellipsis; on a narrow terminal the text wraps (an amount's currency, an instant's time and
offset go to the next line) before an identifier folds, and a number folds only when
nothing else can give.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
from datetime import datetime, tzinfo
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, RenderableType, RenderResult
from rich.table import Table
from rich.text import Text

__all__ = ["NONE", "ReportTable", "count", "duration", "lines", "moment", "money", "moneys",
           "percent"]

NONE = "-"
_CENT = Decimal("0.01")
_BREAKS = re.compile(r"\s+(?!%)")
_FOLD = 12  # an identifier folded onto lines this wide still reads; so does 1,000,000.00


def money(amount: Decimal | None, currency: str) -> str:
    """``12,500.00 CNY``: rounded half up to 2 decimals, thousands separated."""
    if amount is None:
        return NONE
    cents = amount.quantize(_CENT, rounding=ROUND_HALF_UP)
    return f"{abs(cents) if cents == 0 else cents:,.2f} {currency}"


def moneys(amounts: Mapping[str, Decimal]) -> str:
    """Amounts keyed by currency, one :func:`money` a line, currencies sorted."""
    return lines(money(amount, currency) for currency, amount in sorted(amounts.items()))


def percent(ratio: Decimal | None) -> str:
    """A ratio as a percent, rounded half up to 2 decimals: ``1.2498`` -> ``124.98 %``."""
    if ratio is None:
        return NONE
    value = (ratio * 100).quantize(_CENT, rounding=ROUND_HALF_UP)
    return f"{abs(value) if value == 0 else value:,.2f} %"


def moment(value: datetime | None, zone: str | tzinfo | None = None) -> str:
    """``2026-03-31 18:00 +08:00``: the instant in ``zone`` (a name or a tzinfo; ``None``
    keeps its own offset), to the minute, with the offset."""
    if value is None:
        return NONE
    if value.utcoffset() is None:
        raise ValueError(f"naive datetime {value!r}: an instant needs an offset")
    local = value if zone is None else value.astimezone(
        ZoneInfo(zone) if isinstance(zone, str) else zone)
    offset = local.utcoffset()
    assert offset is not None  # aware, checked above
    minutes = int(offset.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    hours, minutes = divmod(abs(minutes), 60)
    return f"{local:%Y-%m-%d %H:%M} {sign}{hours:02d}:{minutes:02d}"


def duration(secs: Decimal | None) -> str:
    """``3d 04:05:06`` (whole seconds) for a number of seconds; ``-`` for none."""
    if secs is None:
        return NONE
    total = int(secs)
    days, rest = divmod(total, 86_400)
    hours, rest = divmod(rest, 3600)
    minutes, sec = divmod(rest, 60)
    clock = f"{hours:02d}:{minutes:02d}:{sec:02d}"
    return f"{days}d {clock}" if days else clock


def count(value: int) -> str:
    """``1,154``."""
    return f"{value:,}"


def lines(values: Iterable[str]) -> str:
    """Several values in one cell, one a line (``-`` for none)."""
    return "\n".join(values) or NONE


class ReportTable(Table):
    """A report's table: cells are plain text (no markup); ``numbers`` columns are
    right-aligned; ``numbers`` and ``keep`` columns (amounts, times) fold last.

    Nothing is cut: every column folds rather than ending in an ellipsis. When the natural
    widths do not fit the terminal, the widest columns give first, in rounds: wrap at
    spaces (an amount's currency, an instant's offset go to the next line), then fold the
    other columns' values (identifiers, labels) onto lines of 12, then wrap amounts and
    times at any space, then fold identifiers to their header's width, and only then
    anything.
    """

    def __init__(self, title: str, *headers: str, numbers: Collection[str] = (),
                 keep: Collection[str] = ()) -> None:
        """A table titled ``title`` with ``headers`` (unique) as its columns."""
        super().__init__(title=title)
        for header in headers:
            self.add_column(header, justify="right" if header in numbers else "left",
                            overflow="fold")
        self._kept = [header in numbers or header in keep for header in headers]

    def add_cells(self, *cells: str | None, end_section: bool = False) -> None:
        """One row of plain text (``None`` shows as ``-``); ``end_section`` draws a line
        under it."""
        self.add_row(*(Text(NONE if cell is None else cell) for cell in cells),
                     end_section=end_section)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        """Render with the widths of :meth:`fit` (rich's own layout when it all fits)."""
        widths = self.fit(options.max_width)
        saved = [column.width for column in self.columns]
        try:
            if widths is not None:
                for column, width in zip(self.columns, widths, strict=True):
                    column.width = width
            yield from super().__rich_console__(console, options)
        finally:
            for column, before in zip(self.columns, saved, strict=True):
                column.width = before

    def fit(self, max_width: int) -> list[int] | None:
        """Column content widths that fit ``max_width`` (see the class docstring), or
        ``None`` when the natural widths fit."""
        _, right, _, left = self.padding
        available = max_width - (len(self.columns) + 1) - (left + right) * len(self.columns)
        cells = [[_plain(cell) for cell in column.cells] for column in self.columns]
        headers = [_plain(column.header) for column in self.columns]
        widths = [max(cell_len(line) for text in (header, *column)
                      for line in text.split("\n"))
                  for header, column in zip(headers, cells, strict=True)]
        if sum(widths) <= available or available < len(widths):
            return None  # it fits; or not even a character a column: rich decides
        heads = [_longest_word([header]) for header in headers]
        words = [max(_longest_word(column), head) for column, head in zip(cells, heads,
                                                                           strict=True)]
        # Amounts and times first lose only their last word to the next line (a currency
        # code, an offset); then identifiers fold, keeping _FOLD characters a line; then
        # amounts and times wrap at any space; then identifiers fold further.
        lasts = [max(_but_last_word(column), w) if kept else w
                 for column, w, kept in zip(cells, words, self._kept, strict=True)]
        folded = [max(head, min(w, _FOLD)) for w, head in zip(words, heads, strict=True)]
        rounds = (
            lasts,
            [last if kept else fold
             for last, fold, kept in zip(lasts, folded, self._kept, strict=True)],
            [w if kept else fold for w, fold, kept in zip(words, folded, self._kept,
                                                           strict=True)],
            [w if kept else head for w, head, kept in zip(words, heads, self._kept,
                                                           strict=True)],
            [1] * len(widths),
        )
        for floors in rounds:
            _shrink(widths, floors, available)
        return widths


def _plain(cell: RenderableType) -> str:
    return cell.plain if isinstance(cell, Text) else str(cell)


def _but_last_word(texts: Iterable[str]) -> int:
    """The widest line once each line's last word goes to a line of its own."""
    widest = 1
    for text in texts:
        for line in text.split("\n"):
            line = line.strip()
            last = _BREAKS.split(line)[-1]
            widest = max(widest, cell_len(line[:len(line) - len(last)].rstrip()),
                         cell_len(last))
    return widest


def _longest_word(texts: Iterable[str]) -> int:
    """The widest run between spaces (a percent's `` %`` stays with its number)."""
    return max((cell_len(word) for text in texts for word in _BREAKS.split(text.strip())),
               default=1)


def _shrink(widths: list[int], floors: list[int], available: int) -> None:
    """Narrow the widest column above its floor, one cell at a time, until the widths fit
    ``available`` or every column is at its floor."""
    excess = sum(widths) - available
    while excess > 0:
        above = [i for i, (w, f) in enumerate(zip(widths, floors, strict=True)) if w > f]
        if not above:
            return
        widest = max(above, key=lambda i: widths[i])
        widths[widest] -= 1
        excess -= 1
