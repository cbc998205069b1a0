"""Turning report rows into JSON-ready values and rich tables."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import fields, is_dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from rich.table import Table

from projections.pipeline.columns import CENT

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


def duration(secs: Decimal | None) -> str:
    """``3d 04:05:06`` (whole seconds) for a number of seconds; ``-`` for none."""
    if secs is None:
        return "-"
    total = int(secs)
    days, rest = divmod(total, 86_400)
    hours, rest = divmod(rest, 3600)
    minutes, sec = divmod(rest, 60)
    clock = f"{hours:02d}:{minutes:02d}:{sec:02d}"
    return f"{days}d {clock}" if days else clock


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    return str(value)


def rich_table(title: str, headers: Sequence[str], rows: Iterable[Sequence[Any]],
               numeric_from: int = 0) -> Table:
    """A table whose columns from ``numeric_from`` on are right-aligned."""
    table = Table(title=title)
    for i, header in enumerate(headers):
        table.add_column(header, justify="right" if numeric_from and i >= numeric_from
                         else "left")
    for row in rows:
        table.add_row(*(_cell(v) for v in row))
    return table
