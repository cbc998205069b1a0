"""Keys and signed checkpoints: round trips, forged and foreign signatures, bad files."""

from __future__ import annotations

import json
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest

from engine.audit import (
    AuditKeyError,
    Checkpoint,
    CheckpointError,
    generate_key,
    key_id,
    load_private_key,
    load_public_key,
    read_checkpoint,
)
from tests.audit.conftest import KeyPair

CHECKPOINT = Checkpoint(log="6b0b7f3e-0000-4000-8000-000000000001", size=12, position=15,
                        head=bytes(range(32)), root=bytes(range(32, 64)),
                        time=datetime(2026, 4, 1, 8, 30, tzinfo=UTC))


def test_signed_checkpoint_round_trips_and_verifies(keys: KeyPair, tmp_path: Path) -> None:
    signed = CHECKPOINT.signed(keys.private)
    assert signed.key == key_id(keys.public)
    assert signed.signature_problem(keys.public) is None
    path = tmp_path / "cp.json"
    path.write_text(signed.dumps())
    assert read_checkpoint(path) == signed
    assert json.loads(path.read_text())["time"] == "2026-04-01T08:30:00Z"


def test_altered_or_foreign_signatures_are_named(keys: KeyPair, other_keys: KeyPair) -> None:
    signed = CHECKPOINT.signed(keys.private)
    altered = Checkpoint.from_json({**signed.to_json(), "size": 13})
    assert "altered after signing" in (altered.signature_problem(keys.public) or "")
    foreign = CHECKPOINT.signed(other_keys.private)
    problem = foreign.signature_problem(keys.public) or ""
    assert f"signed by key {key_id(other_keys.public)}" in problem
    assert "not signed" in (CHECKPOINT.signature_problem(keys.public) or "")


@pytest.mark.parametrize(("change", "message"), [
    ({"format": "other/1"}, "format"),
    ({"size": -1}, "size must be a non-negative integer"),
    ({"head": "abc"}, "head must be 64 hex digits"),
    ({"root": "00" * 31}, "root must be 64 hex digits"),
    ({"time": "2026-04-01T08:30:00"}, "no UTC offset"),
    ({"signature": "%%%"}, "signature must be base64"),
])
def test_malformed_checkpoints_name_the_field(keys: KeyPair, change: dict[str, object],
                                              message: str) -> None:
    document = {**CHECKPOINT.signed(keys.private).to_json(), **change}
    with pytest.raises(CheckpointError, match=message):
        Checkpoint.from_json(document)
    with pytest.raises(CheckpointError, match="missing field"):
        Checkpoint.from_json({"format": "dealflow-checkpoint/1"})
    with pytest.raises(CheckpointError, match="not JSON"):
        Checkpoint.loads("{")


def test_keys(tmp_path: Path) -> None:
    path = tmp_path / "k" / "audit.key"
    public = generate_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert key_id(load_public_key(path.with_name("audit.key.pub"))) == key_id(public)
    assert key_id(load_public_key(path)) == key_id(public)  # derived from the private key
    with pytest.raises(AuditKeyError, match="already exists"):
        generate_key(path)
    replaced = generate_key(path, overwrite=True)
    assert key_id(replaced) != key_id(public)
    with pytest.raises(AuditKeyError, match="dealflow audit keygen"):
        load_private_key(tmp_path / "missing.key")
    (tmp_path / "junk.key").write_text("not a key")
    with pytest.raises(AuditKeyError, match="not an unencrypted PEM private key"):
        load_private_key(tmp_path / "junk.key")
    with pytest.raises(AuditKeyError, match="not a PEM public key"):
        load_public_key(tmp_path / "junk.key")
