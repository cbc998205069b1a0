"""Column types that keep money exact and times aware on SQLite and PostgreSQL alike.

SQLAlchemy's ``Numeric`` goes through float on SQLite, and SQLite's ``DateTime`` drops the
offset; so money is stored as decimal text and instants as UTC (``timestamptz`` on
PostgreSQL), always read back as aware UTC datetimes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import DateTime, Dialect, Text
from sqlalchemy.types import TypeDecorator

__all__ = ["AwareDateTime", "DecimalText", "decimal_text", "money_text"]

_CENT = Decimal("0.01")


def decimal_text(value: Decimal) -> str:
    """Plain decimal text (no exponent): ``6900.000``, never ``6.9E+3``."""
    return format(value, "f")


def money_text(value: Decimal) -> str:
    """Canonical text of an exact amount: at least 2 decimals, no trailing zeros beyond
    them (``15000.00``, ``6000.095``), so equal amounts always print alike."""
    normal = value.normalize()
    exponent = normal.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -2:
        return format(normal, "f")
    return format(value.quantize(_CENT), "f")


class DecimalText(TypeDecorator[Decimal]):
    """A :class:`~decimal.Decimal` stored as its exact text."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> str | None:
        """Decimal to text."""
        return None if value is None else decimal_text(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        """Text to Decimal."""
        return None if value is None else Decimal(value)


class AwareDateTime(TypeDecorator[datetime]):
    """An instant: written as UTC, read back as an aware UTC datetime; naive is refused."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Aware to UTC (naive UTC on SQLite, whose DATETIME has no offset)."""
        if value is None:
            return None
        if value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: instants must carry an offset")
        utc = value.astimezone(UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Back to aware UTC."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)
