"""The chain follower: batches, resume, one follower at a time, periodic checkpoints, and
the same record bytes whether SQL or Python builds them; on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from engine.audit import ChainFollower, ChainState
from engine.audit.merkle import EMPTY_ROOT, MerkleTree
from engine.audit.record import GENESIS, entry_hash, record_header
from engine.bootstrap import Engine
from tests.audit.conftest import KeyPair
from tests.audit.helpers import deal_facts, verify
from tests.engine.conftest import send

Make = Callable[..., ChainFollower]


def recomputed(follower: ChainFollower) -> list[bytes]:
    """Every entry, recomputed in Python from the log's rows."""
    with follower.engine.connect() as conn:
        rows = follower.log.rows(conn, 0, 100_000)
    entries, head = [], GENESIS
    for row in rows:
        head = entry_hash(head, record_header(row.position, row.originator_id,
                                              row.originator_version, row.topic), row.state)
        entries.append(head)
    return entries


def test_chains_in_batches_and_resumes(populated: Engine, make_follower: Make) -> None:
    first = make_follower(batch_size=40)
    assert first.run_once() == 40
    assert first.state().size == 40
    first.stop()
    second = make_follower(batch_size=40)
    total = second.catch_up()
    state = second.state()
    entries = recomputed(second)
    assert 40 + total == state.size == len(entries)
    assert state.head == entries[-1]
    assert state.root == MerkleTree(entries).root()
    with second.engine.connect() as conn:
        assert state.position == second.log.last_position(conn)
        assert second.chain.entries(conn, state.size) == b"".join(entries)


def test_sql_and_python_build_the_same_records(populated: Engine, follower: ChainFollower
                                               ) -> None:
    with follower.engine.connect() as conn:
        sql = follower.log.records(conn, 0, 100_000)
        rows = follower.log.rows(conn, 0, 100_000)
    assert [(p, bytes(r)) for p, r in sql] == [
        (r.position, record_header(r.position, r.originator_id, r.originator_version, r.topic)
         + r.state) for r in rows]
    assert rows[0].originator_id == rows[0].originator_id.lower()
    assert len(rows[0].originator_id) == 32


def test_only_one_follower_chains(populated: Engine, make_follower: Make) -> None:
    holder, other = make_follower(batch_size=30), make_follower(batch_size=30)
    assert holder.run_once() == 30
    assert other.run_once() == 0  # locked out: standby
    holder.stop()
    assert other.run_once() == 30
    assert other.state().size == 60


def test_the_state_moves_by_compare_and_set(populated: Engine, follower: ChainFollower) -> None:
    follower.run_once()
    state = follower.state()
    stale = ChainState(log=state.log, size=state.size - 1, position=state.position)
    with follower.engine.connect() as conn:
        assert not follower.chain.advance(conn, stale, [], stale)
        conn.rollback()
    assert follower.state() == state


def test_periodic_checkpoints_are_signed_and_verify(populated: Engine, keys: KeyPair,
                                                    make_follower: Make) -> None:
    follower = make_follower(batch_size=64, checkpoint_every=40)
    follower.catch_up()
    with follower.engine.connect() as conn:
        sizes = [c.size for c in follower.chain.checkpoints(conn)]
    assert sizes[0] == 64  # at once: the chain had never been signed
    assert sizes == [64, 128]  # then after 40 more, at the end of a batch
    report = verify(populated, keys, batch_size=25)
    assert report.ok and report.checkpoints_valid == sizes


def test_checkpoints_also_come_after_a_while(engine: Engine, make_follower: Make) -> None:
    now = [datetime(2026, 4, 1, tzinfo=UTC)]
    follower = make_follower(checkpoint_every=10**9, checkpoint_seconds=3600,
                             clock=lambda: now[0])

    def signed() -> list[int]:
        with follower.engine.connect() as conn:
            return [c.size for c in follower.chain.checkpoints(conn)]

    send(engine, *deal_facts("T-1", 5))
    first = engine.app.recorder.max_notification_id()  # 12 deal events, the routing book's
    follower.catch_up()
    assert signed() == [first]  # a chain never signed gets a checkpoint at once
    send(engine, *deal_facts("T-2", 6))
    now[0] += timedelta(minutes=59)
    follower.catch_up()
    assert signed() == [first]
    send(engine, *deal_facts("T-3", 7))
    now[0] += timedelta(minutes=1)
    follower.catch_up()
    assert signed() == [first, engine.app.recorder.max_notification_id()]


def test_follows_live_appends(engine: Engine, follower: ChainFollower, keys: KeyPair) -> None:
    follower.start(poll_interval=0.01)
    for day in (5, 6, 7):
        result = send(engine, *deal_facts(f"L-{day}", day))
        assert result.last_position is not None
        assert follower.wait(result.last_position, timeout=10)
    follower.stop()
    assert follower.state().size == result.last_position
    assert verify(engine, keys).ok


def test_empty_log(engine: Engine, follower: ChainFollower, keys: KeyPair) -> None:
    assert follower.catch_up() == 0
    empty = follower.checkpoint()
    assert (empty.size, empty.position, empty.root) == (0, 0, EMPTY_ROOT)
    report = verify(engine, keys)
    assert report.ok and report.complete and report.events == 0
    assert report.checkpoints_valid == [0]


def test_a_log_the_chain_does_not_cover_is_not_complete(populated: Engine, keys: KeyPair,
                                                        make_follower: Make) -> None:
    unchained = verify(populated, keys)
    assert unchained.ok  # nothing differs ...
    assert not unchained.complete  # ... because nothing was compared with a chain
    assert (unchained.chained, unchained.unchained) == (0, unchained.events)
    follower = make_follower(batch_size=40)
    follower.run_once()
    partly = verify(populated, keys)
    assert (partly.chained, partly.unchained) == (40, partly.events - 40)
    assert not partly.complete
    follower.catch_up()
    chained = verify(populated, keys)
    assert chained.ok and chained.complete and chained.chained == chained.events


def test_checkpoint_needs_a_key(populated: Engine, make_follower: Make) -> None:
    follower = make_follower()
    follower.signer = None
    with pytest.raises(Exception, match="no signing key"):
        follower.checkpoint()
