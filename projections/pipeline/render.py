"""Turning report rows into JSON-ready values and tables (formats: projections.formatting)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import fields, is_dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from projections.formatting import ReportTable, duration
from projections.pipeline.columns import CENT

# ``duration`` moved to projections.formatting; still importable from here.
__all__ = ["cents", "duration", "jsonable", "rich_table"]


def cents(value: Decimal) -> Decimal:
    """Rounded half-up to cents (for sums with more decimals, e.g. weighted amounts)."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def jsonable(value: Any) -> Any:
    """Decimals as strings, times as RFC 3339, dataclasses (with their properties listed in
    ``json_extra``) as objects."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if is_dataclass(value) and not isinstance(value, type):
        out = {f.name: jsonable(getattr(value, f.name)) for f in fields(value)}
        for name in getattr(value, "json_extra", ()):
            out[name] = jsonable(getattr(value, name))
        return out
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def rich_table(title: str, headers: Sequence[str], rows: Iterable[Sequence[Any]],
               numeric_from: int = 0) -> ReportTable:
    """A :class:`~projections.formatting.ReportTable` whose columns from ``numeric_from``
    on are numbers; each value shown as its text (``-`` for ``None``)."""
    numbers = headers[numeric_from:] if numeric_from else ()
    table = ReportTable(title, *headers, numbers=numbers)
    for row in rows:
        table.add_cells(*(None if v is None else str(v) for v in row))
    return table
