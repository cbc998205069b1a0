"""The SLA view's position-keyed tables: on SQLite the position is the rowid (no separate
unique index to write per row); on PostgreSQL a BIGINT key as before."""

from __future__ import annotations

from sqlalchemy import text

from engine.bootstrap import Engine
from tests.engine.conftest import send
from tests.engine.facts import opened


def test_position_keys(engine: Engine) -> None:
    send(engine, *[opened(f"D-{i}") for i in range(3)])
    runner = engine.runner(["sla"])
    try:
        runner.catch_up()
        view = runner.live["sla"]
        tables = [view.facts, view.profiles, view.escalations, view.steps]  # type: ignore[attr-defined]
        with engine.sql.connect() as conn:
            for table in tables:
                if conn.dialect.name == "sqlite":
                    indexes = conn.execute(text(f"PRAGMA index_list({table.name})")).all()
                    assert not [i for i in indexes if i[3] == "pk"], table.name
                    rowids = conn.execute(text(f"SELECT rowid, position FROM {table.name}")).all()
                    assert all(rowid == position for rowid, position in rowids)
                else:
                    kind = conn.execute(text(
                        "SELECT data_type FROM information_schema.columns "
                        "WHERE table_name = :t AND column_name = 'position'"),
                        {"t": table.name}).scalar()
                    assert kind == "bigint", table.name
            assert conn.execute(text(f"SELECT COUNT(*) FROM {view.facts.name}")  # type: ignore[attr-defined]
                                ).scalar() == 3
    finally:
        runner.stop()
