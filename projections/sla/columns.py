"""A column type for instants: aware datetimes stored as fixed-width UTC text.

The text sorts as the instants do, reads back aware on SQLite and PostgreSQL alike, and is
byte-identical however the view was built, which keeps "rebuild equals live" exact.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Dialect, String
from sqlalchemy.types import TypeDecorator

from projections.pipeline.columns import utc_text  # the one text per instant, memoized

__all__ = ["UtcInstant", "utc_text"]


class UtcInstant(TypeDecorator[datetime]):
    """Aware ``datetime`` <-> ``YYYY-MM-DDTHH:MM:SS.ffffff+00:00`` text."""

    impl = String(32)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> str | None:
        """To UTC text."""
        return None if value is None else utc_text(value)

    def process_result_value(self, value: Any | None, dialect: Dialect) -> datetime | None:
        """Back to an aware UTC datetime."""
        return None if value is None else datetime.fromisoformat(str(value))
