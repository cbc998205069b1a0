"""Column types and small SQL helpers shared by the pipeline and KPI views.

Money is stored as TEXT holding a canonical decimal string (SQLAlchemy's ``Numeric`` goes
through float on SQLite); times are stored timezone-aware: ``timestamptz`` on PostgreSQL,
fixed-width UTC ISO 8601 text on SQLite (so that text order is time order).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import lru_cache
from operator import itemgetter
from typing import Any

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

from engine.store.chunks import lookup_chunks
from projections.report import ReportParams

__all__ = [
    "CENT",
    "DecimalText",
    "Money",
    "UtcDateTime",
    "add_counts",
    "insert_rows",
    "instant_decoder",
    "instant_encoder",
    "money",
    "read_rows",
    "upsert",
    "utc_text",
    "visible",
    "write_rows",
]

CENT = Decimal("0.01")


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
        return utc_text(value)

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


def upsert(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]],
           keys: Sequence[str], *, raw_instants: bool = False) -> None:
    """Insert ``rows``, replacing the non-key columns of rows whose ``keys`` exist (see
    :func:`write_rows` for ``raw_instants``)."""
    write_rows(conn, table, rows, keys, raw_instants=raw_instants)


Encoder = Callable[[Any], Any]


# Texts of recent instants and instants of recent texts: a batch writes the same instants
# many times over (a fact's row in several tables, a deal's times again when it is written),
# and a rebuild writes a stay's entry long after the fact. Two generations each: when the
# young one is full it moves to the old one, so the recent half is always kept. Live
# instants are nearly all new, so a service fills both generations within minutes: about
# 190 bytes an entry, four maps, so this bound keeps them within ~25 MB.
_MEMO = 32_768
_TEXTS: dict[datetime, str] = {}
_OLD_TEXTS: dict[datetime, str] = {}
_TIMES: dict[str, datetime] = {}
_OLD_TIMES: dict[str, datetime] = {}


def _age(young: dict[Any, Any], old: dict[Any, Any]) -> None:
    old.clear()
    old.update(young)
    young.clear()


_DAYS: dict[int, str] = {}  # proleptic ordinal -> "YYYY-MM-DDT"


def _format_utc(value: datetime) -> str:
    """``value`` (in UTC) as ``YYYY-MM-DDTHH:MM:SS.ffffff+00:00``: what
    ``isoformat(timespec="microseconds")`` gives, in half the time."""
    ordinal = value.toordinal()
    day = _DAYS.get(ordinal)
    if day is None:
        if len(_DAYS) >= _MEMO:
            _DAYS.clear()
        day = _DAYS[ordinal] = f"{value.year:04d}-{value.month:02d}-{value.day:02d}T"
    return day + value.time().isoformat("microseconds") + "+00:00"


def utc_text(value: datetime) -> str:
    """``2026-01-05T02:00:00.000000+00:00``: the fixed-width UTC text an aware instant is
    stored as on SQLite (naive datetimes are refused)."""
    text = _TEXTS.get(value)
    if text is None:
        text = _OLD_TEXTS.get(value)
        if text is None:
            if value.tzinfo is UTC:
                text = _format_utc(value)
            elif value.tzinfo is None or value.utcoffset() is None:
                raise ValueError(f"naive datetime {value!r}: times must carry an offset")
            else:
                text = _format_utc(value.astimezone(UTC))
        if len(_TEXTS) >= _MEMO:
            _age(_TEXTS, _OLD_TEXTS)
        _TEXTS[value] = text
    return text


def _utc_time(text: str) -> datetime:
    value = _TIMES.get(text)
    if value is None:
        value = _OLD_TIMES.get(text)
        if value is None:
            value = datetime.fromisoformat(text).astimezone(UTC)
        if len(_TIMES) >= _MEMO:
            _age(_TIMES, _OLD_TIMES)
        _TIMES[text] = value
    return value


def instant_encoder(dialect: str) -> Callable[[datetime], Any]:
    """How an aware instant is passed to the driver of ``dialect`` (as :class:`UtcDateTime`
    binds it): UTC text on SQLite, the datetime itself on PostgreSQL."""
    return _aware if dialect == "postgresql" else utc_text


def instant_decoder(dialect: str) -> Callable[[Any], datetime]:
    """The aware instant (UTC) of a value :func:`instant_encoder` gave the driver of
    ``dialect`` (as :func:`read_rows` with ``raw_instants`` returns it)."""
    return _aware if dialect == "postgresql" else _utc_time


def add_counts(conn: Connection, table: Table, keys: Sequence[str], count: str,
               rows: Sequence[tuple[Any, ...]]) -> None:
    """Add to ``table``'s ``count`` column: each row is the values of ``keys`` then the
    number to add; a key not yet in the table is inserted with it. One ``executemany`` of
    ``INSERT ... ON CONFLICT DO UPDATE`` (SQLite and PostgreSQL), nothing read back."""
    if not rows:
        return
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    names = [*keys, count]
    name = _quote(table.name)
    sql = (f"INSERT INTO {name} ({', '.join(_quote(n) for n in names)}) "
           f"VALUES ({', '.join(mark for _ in names)}) "
           f"ON CONFLICT ({', '.join(_quote(k) for k in keys)}) DO UPDATE SET "
           f"{_quote(count)} = {name}.{_quote(count)} + excluded.{_quote(count)}")
    conn.exec_driver_sql(sql, list(rows))


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r}: times must carry an offset")
    return value


def _encoder(column: Any, dialect: str, raw_instants: bool) -> Encoder | None:
    """How a column's Python value becomes its DB-API parameter (what the column's
    SQLAlchemy type would do on bind), or ``None`` when it passes as is."""
    kind = column.type
    if isinstance(kind, UtcDateTime):
        if raw_instants:
            return None
        return _aware if dialect == "postgresql" else utc_text
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
def _writer(table: Table, dialect: str, paramstyle: str, keys: tuple[str, ...] | None,
            raw_instants: bool
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
                if (enc := _encoder(table.c[n], dialect, raw_instants)) is not None]
    return sql, itemgetter(*names), encoders


@lru_cache(maxsize=256)
def _inserter(table: Table, paramstyle: str, names: tuple[str, ...]) -> str:
    if sorted(names) != sorted(c.name for c in table.columns):
        raise ValueError(f"rows for {table.name} must name each of its columns once: {names}")
    mark = "?" if paramstyle == "qmark" else "%s"
    return (f"INSERT INTO {_quote(table.name)} ({', '.join(_quote(n) for n in names)}) "
            f"VALUES ({', '.join(mark for _ in names)})")


def insert_rows(conn: Connection, table: Table, names: tuple[str, ...],
                rows: Sequence[tuple[Any, ...]]) -> None:
    """Insert ``rows``, tuples of every column's value in ``names`` order, each value
    already what the driver takes (instants through :func:`instant_encoder`, decimals as
    their text, money as :func:`money` text), in one DB-API ``executemany``."""
    if rows:
        conn.exec_driver_sql(_inserter(table, conn.dialect.paramstyle, names), rows)


def write_rows(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]],
               keys: Sequence[str] | None = None, *, raw_instants: bool = False) -> None:
    """Insert ``rows`` in one DB-API ``executemany`` (the hot path of every batch); with
    ``keys``, rows whose keys exist have their other columns replaced. Values are encoded as
    the columns' types would encode them, so SQLAlchemy reads them back the same; with
    ``raw_instants`` the rows' instants are already as the driver takes them
    (:func:`instant_encoder`, or read by :func:`read_rows` with ``raw_instants``)."""
    if not rows:
        return
    dialect = conn.dialect
    sql, getter, encoders = _writer(table, dialect.name, dialect.paramstyle,
                                    None if keys is None else tuple(keys), raw_instants)
    params = []
    for row in rows:
        values = list(getter(row))
        for i, encode in encoders:
            value = values[i]
            if value is not None:
                values[i] = encode(value)
        params.append(tuple(values))
    conn.exec_driver_sql(sql, params)


def _decoder(column: Any, dialect: str, raw_instants: bool) -> Encoder | None:
    """How a column's stored value is read back (what its SQLAlchemy type would do)."""
    kind = column.type
    if isinstance(kind, UtcDateTime):
        if raw_instants:
            return None
        if dialect == "postgresql":
            return lambda v: v.astimezone(UTC)
        return _utc_time
    if isinstance(kind, DecimalText):
        return Decimal
    if isinstance(kind, Date) and dialect != "postgresql":
        return date.fromisoformat
    return None


@lru_cache(maxsize=256)
def _reader(table: Table, dialect: str, column: str, where: str, raw_instants: bool
            ) -> tuple[str, tuple[str, ...], list[tuple[int, Encoder]]]:
    names = tuple(c.name for c in table.columns)
    sql = (f"SELECT {', '.join(_quote(n) for n in names)} FROM {_quote(table.name)} "
           f"WHERE {_quote(column)} IN ({{marks}}){where}")
    decoders = [(i, dec) for i, n in enumerate(names)
                if (dec := _decoder(table.c[n], dialect, raw_instants)) is not None]
    return sql, names, decoders


def read_rows(conn: Connection, table: Table, column: str, values: Iterable[Any],
              where: str = "", *, raw_instants: bool = False) -> list[dict[str, Any]]:
    """The rows of ``table`` whose ``column`` is one of ``values`` (and that satisfy the
    extra SQL condition ``where``), as dicts decoded like SQLAlchemy would decode them
    (instants left as stored with ``raw_instants``); one plain DB-API query per 500 values
    (the hot path of every batch)."""
    dialect = conn.dialect
    sql, names, decoders = _reader(table, dialect.name, column,
                                   f" AND ({where})" if where else "", raw_instants)
    mark = "?" if dialect.paramstyle == "qmark" else "%s"
    out: list[dict[str, Any]] = []
    for batch in lookup_chunks(sorted(set(values))):
        result = conn.exec_driver_sql(sql.format(marks=", ".join(mark for _ in batch)),
                                      tuple(batch))
        for raw in result.fetchall():
            row = list(raw)
            for i, decode in decoders:
                if row[i] is not None:
                    row[i] = decode(row[i])
            out.append(dict(zip(names, row, strict=True)))
    return out
