"""Adversarial: each kind of tampering with a populated store is detected and located, on
SQLite and PostgreSQL. The chain is built and a checkpoint signed before the tampering."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest
from sqlalchemy import text

from engine.audit import ChainFollower, Checkpoint, VerifyReport
from engine.audit.tables import CHECKPOINTS
from engine.bootstrap import Engine
from tests.audit.conftest import KeyPair
from tests.audit.helpers import Tamper, verify
from tests.engine.conftest import send
from tests.engine.facts import fact


@pytest.fixture
def signed(populated: Engine, follower: ChainFollower) -> Checkpoint:
    """The populated store chained, with a signed checkpoint of all of it."""
    follower.catch_up()
    return follower.checkpoint()


@pytest.fixture
def tamper(populated: Engine, follower: ChainFollower) -> Iterator[Tamper]:
    yield Tamper(populated, follower.engine)


def located(report: VerifyReport) -> tuple[str, int | None]:
    assert not report.ok
    first = report.first
    assert first is not None
    return first.kind, first.position


def test_untouched_store_verifies(populated: Engine, keys: KeyPair, signed: Checkpoint) -> None:
    report = verify(populated, keys, signed)
    assert report.ok, report.findings
    assert report.events == report.chained == signed.size > 150
    assert report.checkpoints_valid == [signed.size, signed.size]  # stored + the file


def test_one_changed_byte(populated: Engine, keys: KeyPair, signed: Checkpoint,
                          tamper: Tamper) -> None:
    tamper.change_byte(77)
    assert located(verify(populated, keys, signed)) == ("altered", 77)


def test_one_deleted_event(populated: Engine, keys: KeyPair, signed: Checkpoint,
                           tamper: Tamper) -> None:
    tamper.delete(60)
    assert located(verify(populated, keys, signed)) == ("removed", 60)


def test_two_swapped_events(populated: Engine, keys: KeyPair, signed: Checkpoint,
                            tamper: Tamper) -> None:
    tamper.swap(40, 95)
    report = verify(populated, keys, signed)
    assert located(report) == ("reordered", 40)
    assert "chained at 95" in report.findings[0].message


def test_one_inserted_event(populated: Engine, keys: KeyPair, signed: Checkpoint,
                            tamper: Tamper) -> None:
    tamper.insert(30)
    report = verify(populated, keys, signed)
    assert located(report) == ("inserted", 30)
    assert "now at 31" in report.findings[0].message


def test_truncated_tail(populated: Engine, keys: KeyPair, signed: Checkpoint,
                        tamper: Tamper) -> None:
    tamper.truncate(signed.position - 10)
    assert located(verify(populated, keys, signed)) == ("truncated", signed.position - 9)


def test_truncated_tail_with_its_chain_is_caught_by_the_checkpoint(
        populated: Engine, keys: KeyPair, signed: Checkpoint, tamper: Tamper,
        follower: ChainFollower) -> None:
    log_id = follower.state().log
    tamper.truncate(signed.position - 10)
    _rechain(follower, log_id)
    report = verify(populated, keys, signed)
    assert located(report) == ("truncated", signed.position - 9)
    assert f"covers {signed.size} events" in report.findings[0].message


def test_checkpoint_signed_by_another_key(populated: Engine, keys: KeyPair,
                                          other_keys: KeyPair, signed: Checkpoint,
                                          follower: ChainFollower) -> None:
    forged = signed.signed(other_keys.private)
    with follower.engine.begin() as conn:
        conn.execute(CHECKPOINTS.update().values(document=forged.dumps()))
    report = verify(populated, keys)
    assert report.kinds() == ["forged_checkpoint"]
    finding = report.findings[0]
    assert (finding.position, finding.checkpoint) == (signed.position, signed.size)
    assert f"signed by key {forged.key}, not by the trusted key" in finding.message
    assert located(verify(populated, keys, forged))[0] == "forged_checkpoint"


def test_a_checkpoint_of_another_store_is_foreign(populated: Engine, keys: KeyPair,
                                                  signed: Checkpoint) -> None:
    other = replace(signed, log="00000000-0000-4000-8000-000000000000").signed(keys.private)
    report = verify(populated, keys, other)
    assert report.kinds() == ["foreign_checkpoint"]
    assert report.findings[0].position == signed.position
    assert "not this store's log" in report.findings[0].message


def test_rewritten_log_and_chain_are_located_between_checkpoints(
        populated: Engine, keys: KeyPair, other_keys: KeyPair, follower: ChainFollower,
        tamper: Tamper) -> None:
    follower.catch_up()
    early = follower.checkpoint()
    send(populated, fact("survey.responded", "D-4", {"score": 5}))
    follower.catch_up()
    late = follower.checkpoint()
    # Alter an event after the early checkpoint, rebuild the chain to match (keeping the
    # log id) and replace the stored checkpoints with one signed by the forger's key.
    log_id = follower.state().log
    tamper.change_byte(early.position + 1)
    _rechain(follower, log_id)
    with follower.engine.begin() as conn:
        conn.execute(CHECKPOINTS.delete())
    follower.signer = other_keys.private
    follower.checkpoint()
    report = verify(populated, keys, early, late)
    assert located(report) == ("rewritten", early.position + 1)
    assert f"up to {late.position}" in report.first.message  # type: ignore[union-attr]
    assert "forged_checkpoint" in report.kinds()
    assert report.checkpoints_valid == [early.size]


def test_altered_chain_row_with_an_intact_log(populated: Engine, keys: KeyPair,
                                              signed: Checkpoint,
                                              follower: ChainFollower) -> None:
    with follower.engine.begin() as conn:
        conn.execute(text("UPDATE dealflow_audit_chain SET entry = :e WHERE position = 50"),
                     {"e": bytes(32)})
    assert located(verify(populated, keys, signed)) == ("chain_altered", 50)


def test_tampering_anywhere_is_located_for_any_batch_size(
        populated: Engine, keys: KeyPair, signed: Checkpoint, tamper: Tamper) -> None:
    tamper.change_byte(signed.position)  # the very last event
    for batch_size in (1, 7, 1000):
        assert located(verify(populated, keys, batch_size=batch_size)) == (
            "altered", signed.position)


def _rechain(follower: ChainFollower, log_id: str) -> None:
    """What a forger with database access does: rebuild the chain over the altered log."""
    with follower.engine.begin() as conn:
        conn.execute(text("DELETE FROM dealflow_audit_chain"))
        conn.execute(text("DELETE FROM dealflow_audit_state"))
    follower.catch_up()
    with follower.engine.begin() as conn:
        conn.execute(text("UPDATE dealflow_audit_state SET log = :log"), {"log": log_id})
