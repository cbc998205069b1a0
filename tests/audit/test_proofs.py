"""Inclusion and consistency proofs against signed checkpoints, and replayed against the
wrong ones; on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from engine.audit import (
    ChainFollower,
    Checkpoint,
    ConsistencyProof,
    InclusionProof,
    ProofError,
    Prover,
)
from engine.bootstrap import Engine
from tests.audit.conftest import KeyPair
from tests.audit.helpers import Tamper, deal_facts
from tests.engine.conftest import send


@pytest.fixture
def two(populated: Engine, follower: ChainFollower) -> tuple[Checkpoint, Checkpoint]:
    """A checkpoint of the populated store, and one after two more deals."""
    follower.catch_up()
    early = follower.checkpoint()
    send(populated, *deal_facts("LATE-1", 20), *deal_facts("LATE-2", 21))
    follower.catch_up()
    return early, follower.checkpoint()


@pytest.fixture
def prover(populated: Engine, follower: ChainFollower) -> Prover:
    return Prover(populated.app, follower.engine)


def test_inclusion_proofs_hold(two: tuple[Checkpoint, Checkpoint], prover: Prover) -> None:
    early, late = two
    positions = [1, 2, early.position // 2, early.position, late.position]
    proofs = prover.inclusion(positions, late)
    assert [p.position for p in proofs] == sorted(positions)
    for proof in proofs:
        proof.check(late)
        assert InclusionProof.from_json(proof.to_json()) == proof
        assert len(proof.path) <= late.size.bit_length()


def test_a_proof_replayed_against_another_checkpoint_fails(
        two: tuple[Checkpoint, Checkpoint], prover: Prover, other_keys: KeyPair) -> None:
    early, late = two
    proof = prover.inclusion([early.position - 3], early)[0]
    proof.check(early)
    with pytest.raises(ProofError, match=f"{early.size} events, the checkpoint covers") as caught:
        proof.check(late)
    assert caught.value.position == early.position - 3
    # The same size, but another log's root (e.g. a checkpoint of another store).
    other = Checkpoint(log=early.log, size=early.size, position=early.position,
                       head=early.head, root=late.root, time=early.time
                       ).signed(other_keys.private)
    with pytest.raises(ProofError, match=f"position {early.position - 3} is not entry"):
        proof.check(other)
    with pytest.raises(ProofError, match="not covered by checkpoint"):
        prover.inclusion([late.position], early)


def test_consistency_proofs(populated: Engine, two: tuple[Checkpoint, Checkpoint],
                            prover: Prover, follower: ChainFollower) -> None:
    early, late = two
    proof = prover.consistency(early, late)
    proof.check(early, late)
    assert ConsistencyProof.from_json(proof.to_json()) == proof
    send(populated, *deal_facts("LATER", 22))
    follower.catch_up()
    latest = follower.checkpoint()
    with pytest.raises(ProofError, match="relates sizes"):
        proof.check(early, latest)
    fake = Checkpoint(log=late.log, size=late.size, position=late.position, head=late.head,
                      root=latest.root, time=late.time)
    with pytest.raises(ProofError, match="is not a prefix"):
        proof.check(early, fake)


def test_proofs_refuse_a_tampered_store(populated: Engine, two: tuple[Checkpoint, Checkpoint],
                                        prover: Prover, follower: ChainFollower) -> None:
    late = two[1]
    Tamper(populated, follower.engine).change_byte(10)
    with pytest.raises(ProofError, match="no longer matches the chain") as caught:
        prover.inclusion([10], late)
    assert caught.value.position == 10
    with follower.engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM dealflow_audit_chain WHERE position = 5")
    with pytest.raises(ProofError, match="cannot cover checkpoint"):
        Prover(populated.app, follower.engine).inclusion([3], late)
