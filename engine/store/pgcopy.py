"""PostgreSQL appends by ``COPY ... FROM STDIN (FORMAT BINARY)``.

A batch's rows (events, dedupe records, rejections) go to the server as one binary COPY per
table instead of one INSERT of composite arrays: psycopg encodes each row's values in C
(``write_row`` with fixed types), where building the composite array cost a quarter of
PostgreSQL ingest in Python, and the server parses no text. COPY runs on the caller's
cursor, so it is part of the caller's transaction (the recorder's, under its table lock).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from psycopg import Cursor
from psycopg.sql import SQL, Composable, Identifier

__all__ = ["copy_rows"]


def copy_rows(
    cursor: Cursor[Any],
    table: Composable,
    columns: Sequence[str],
    types: Sequence[str],
    rows: Iterable[Sequence[Any]],
) -> None:
    """Write ``rows`` (values in ``columns`` order, PostgreSQL ``types``) into ``table``."""
    statement = SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(
        table, SQL(", ").join(Identifier(c) for c in columns)
    )
    with cursor.copy(statement) as copy:
        copy.set_types(list(types))
        write = copy.write_row
        for row in rows:
            write(row)
