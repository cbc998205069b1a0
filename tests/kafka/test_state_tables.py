"""The Kafka side's tables are created safely by workers and threads starting together
(engine.kafka.state.ensure_tables)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect
from sqlalchemy.exc import OperationalError

from engine.kafka import state


def test_threads_starting_together_create_the_tables_once(tmp_path: Path) -> None:
    # serve --kafka starts its consumer and its relay together: each creates the tables.
    engine = create_engine(f"sqlite:///{tmp_path}/s.db")
    start = threading.Barrier(8)
    failures: list[BaseException] = []

    def create() -> None:
        start.wait()
        try:
            state.ensure_tables(engine)
        except BaseException as exc:  # collected for the assertion below
            failures.append(exc)

    threads = [threading.Thread(target=create) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert failures == []
    assert set(state._meta.tables) <= set(inspect(engine).get_table_names())


def test_a_table_made_by_another_process_meanwhile_is_checked_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Another process creating a table between the check and the CREATE, once per table:
    # each such failure checks again.
    engine = create_engine(f"sqlite:///{tmp_path}/s.db")
    real = state._meta.create_all
    calls: list[int] = []

    def racing(bind: object, checkfirst: bool = True) -> None:
        calls.append(1)
        if len(calls) <= 3:
            raise OperationalError("CREATE TABLE ...", {}, Exception("table already exists"))
        real(bind, checkfirst=checkfirst)  # type: ignore[arg-type]

    monkeypatch.setattr(state._meta, "create_all", racing)
    state.ensure_tables(engine)
    assert len(calls) == 4
    assert set(state._meta.tables) <= set(inspect(engine).get_table_names())

    calls.clear()

    def always(bind: object, checkfirst: bool = True) -> None:
        calls.append(1)
        raise OperationalError("CREATE TABLE ...", {}, Exception("disk I/O error"))

    monkeypatch.setattr(state._meta, "create_all", always)
    with pytest.raises(OperationalError):
        state.ensure_tables(engine)
    assert len(calls) == state._ATTEMPTS
