"""Column types and small SQL helpers shared by the pipeline and KPI views.

Money is stored as TEXT holding a canonical decimal string (SQLAlchemy's ``Numeric`` goes
through float on SQLite); times are stored timezone-aware: ``timestamptz`` on PostgreSQL,
fixed-width UTC ISO 8601 text on SQLite (so that text order is time order).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import lru_cache
from operator import itemgetter
from typing import Any, TypeVar

from sqlalchemy import (
    ColumnElement,
    Connection,
    Date,
    DateTime,
    Dialect,
    String,
    Table,
    TypeDecorator,
    and_,
)
from sqlalchemy.types import TypeEngine

from projections.report import ReportParams

__all__ = [
    "CENT",
    "DecimalText",
    "Money",
    "UtcDateTime",
    "chunks",
    "money",
    "read_rows",
    "upsert",
    "visible",
    "write_rows",
]

CENT = Decimal("0.01")
T = TypeVar("T")
_CHUNK = 500


def money(value: Decimal) -> Decimal:
    """A contract amount in canonical form (exactly 2 decimals; contract amounts have at
    most 2 by value, so this never rounds)."""
    return value.quantize(CENT)


class DecimalText(TypeDecorator[Decimal]):
    """An exact decimal stored as its string (never through float)."""

    impl = String(48)
    cache_ok = True

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> str | None:
        """As text."""
        return None if value is None else str(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> Decimal | None:
        """Back to ``Decimal``."""
        return None if value is None else Decimal(value)


class Money(DecimalText):
    """An amount, stored with exactly 2 decimals (a canonical string per value)."""

    cache_ok = True

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> str | None:
        """As canonical text."""
        return None if value is None else str(money(value))


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware instant; naive datetimes are refused. Read back in UTC."""

    impl = String(32)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        """``timestamptz`` on PostgreSQL, text elsewhere."""
        if dialect.name == "postgresql":
            return dialect.type_descriptor(DateTime(timezone=True))
        return dialect.type_descriptor(String(32))

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        """UTC; fixed-width text on SQLite."""
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: times must carry an offset")
        if dialect.name == "postgresql":
            return value.astimezone(UTC)
        return _utc_text(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        """An aware datetime in UTC."""
        if value is None:
            return None
        if isinstance(value, str):
            return _utc_time(value)
        result: datetime = value.astimezone(UTC)
        return result


def visible(occurred: ColumnElement[Any], recorded: ColumnElement[Any],
            params: ReportParams) -> ColumnElement[bool]:
    """SQL for :meth:`ReportParams.visible`: happened by ``as_of``, recorded by ``known_at``."""
    clause = occurred <= params.as_of
    if params.known_at is not None:
        clause = and_(clause, recorded <= params.known_at)
    return clause


def chunks(items: Iterable[T], size: int = _CHUNK) -> Iterator[list[T]]:
    """``items`` in lists of at most ``size`` (keeps IN lists under parameter limits)."""
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def upsert(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]],
           keys: Sequence[str]) -> None:
    """Insert ``rows``, replacing the non-key columns of rows whose ``keys`` exist."""
    write_rows(conn, table, rows, keys)


Encoder = Callable[[Any], Any]


_TEXTS: dict[datetime, str] = {}  # a batch writes the same instants many times over
_TIMES: dict[str, datetime] = {}
_MEMO = 200_000


def _utc_text(value: datetime) -> str:
    text = _TEXTS.get(value)
    if text is None:
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: times must carry an offset")
        if len(_TEXTS) > _MEMO:
            _TEXTS.clear()
        text = _TEXTS[value] = value.astimezone(UTC).replace(tzinfo=None).isoformat(
            timespec="microseconds") + "+00:00"
    return text


def _utc_time(text: str) -> datetime:
    value = _TIMES.get(text)
    if value is None:
        if len(_TIMES) > _MEMO:
            _TIMES.clear()
        value = _TIMES[text] = datetime.fromisoformat(text).astimezone(UTC)
    return value


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r}: times must carry an offset")
    return value


def _encoder(column: Any, dialect: str) -> Encoder | None:
    """How a column's Python value becomes its DB-API parameter (what the column's
    SQLAlchemy type would do on bind), or ``None`` when it passes as is."""
    kind = column.type
    if isinstance(kind, UtcDateTime):
        return _aware if dialect == "postgresql" else _utc_text
    if isinstance(kind, Money):
        return lambda v: str(money(v))
    if isinstance(kind, DecimalText):
        return str
    if isinstance(kind, Date) and dialect != "postgresql":
        return date.isoformat
    return None


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@lru_cache(maxsize=256)
def _writer(table: Table, dialect: str, paramstyle: str, keys: tuple[str, ...] | None
            ) -> tuple[str, Callable[[Mapping[str, Any]], Any], list[tuple[int, Encoder]]]:
    names = tuple(c.name for c in table.columns)
    mark = "?" if paramstyle == "qmark" else "%s"
    columns = ", ".join(_quote(n) for n in names)
    sql = (f"INSERT INTO {_quote(table.name)} ({columns}) "
           f"VALUES ({', '.join(mark for _ in names)})")
    if keys is not None:
        others = [n for n in names if n not in keys]
        target = ", ".join(_quote(k) for k in keys)
        sql += (f" ON CONFLICT ({target}) DO UPDATE SET "
                + ", ".join(f"{_quote(n)} = excluded.{_quote(n)}" for n in others)
                if others else f" ON CONFLICT ({target}) DO NOTHING")
    encoders = [(i, enc) for i, n in enumerate(names)
                if (enc := _encoder(table.c[n], dialect)) is not None]
    return sql, itemgetter(*names), encoders


def write_rows(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]],
               keys: Sequence[str] | None = None) -> None:
    """Insert ``rows`` in one DB-API ``executemany`` (the hot path of every batch); with
    ``keys``, rows whose keys exist have their other columns replaced. Values are encoded as
    the columns' types would encode them, so SQLAlchemy reads them back the same."""
    if not rows:
        return
    dialect = conn.dialect
    sql, getter, encoders = _writer(table, dialect.name, dialect.paramstyle,
                                    None if keys is None else tuple(keys))
    params = []
    for row in rows:
        values = list(getter(row))
        for i, encode in encoders:
            value = values[i]
            if value is not None:
                values[i] = encode(value)
        params.append(tuple(values))
    conn.exec_driver_sql(sql, params)


def _decoder(column: Any, dialect: str) -> Encoder | None:
    """How a column's stored value is read back (what its SQLAlchemy type would do)."""
    kind = column.type
    if isinstance(kind, UtcDateTime):
        if dialect == "postgresql":
            return lambda v: v.astimezone(UTC)
        return _utc_time
    if isinstance(kind, DecimalText):
        return Decimal
    if isinstance(kind, Date) and dialect != "postgresql":
        return date.fromisoformat
    return None


@lru_cache(maxsize=256)
def _reader(table: Table, dialect: str, column: str, where: str
            ) -> tuple[str, tuple[str, ...], list[tuple[int, Encoder]]]:
    names = tuple(c.name for c in table.columns)
    sql = (f"SELECT {', '.join(_quote(n) for n in names)} FROM {_quote(table.name)} "
           f"WHERE {_quote(column)} IN ({{marks}}){where}")
    decoders = [(i, dec) for i, n in enumerate(names)
                if (dec := _decoder(table.c[n], dialect)) is not None]
    return sql, names, decoders


def read_rows(conn: Connection, table: Table, column: str, values: Iterable[Any],
              where: str = "") -> list[dict[str, Any]]:
    """The rows of ``table`` whose ``column`` is one of ``values`` (and that satisfy the
    extra SQL condition ``where``), as dicts decoded like SQLAlchemy would decode them; one
    plain DB-API query per 500 values (the hot path of every batch)."""
    dialect = conn.dialect
    sql, names, decoders = _reader(table, dialect.name, column,
                                   f" AND ({where})" if where else "")
    mark = "?" if dialect.paramstyle == "qmark" else "%s"
    out: list[dict[str, Any]] = []
    for batch in chunks(sorted(set(values))):
        result = conn.exec_driver_sql(sql.format(marks=", ".join(mark for _ in batch)),
                                      tuple(batch))
        for raw in result.fetchall():
            row = list(raw)
            for i, decode in decoders:
                if row[i] is not None:
                    row[i] = decode(row[i])
            out.append(dict(zip(names, row, strict=True)))
    return out
