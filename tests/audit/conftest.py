"""Audit tests run on both backends through the engine fixtures; keys live in tmp_path."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from engine.audit import ChainFollower, generate_key, load_private_key
from engine.audit.follower import LOCK_NAME
from engine.audit.keys import Ed25519PrivateKey, Ed25519PublicKey
from engine.bootstrap import Engine
from tests.audit.helpers import populate
from tests.engine.conftest import engine, make_engine
from tests.infra.factory import closing_factory

__all__ = ["engine", "make_engine"]


@dataclass(frozen=True)
class KeyPair:
    """A signing key, its public key and where both are."""

    private: Ed25519PrivateKey
    public: Ed25519PublicKey
    path: Path

    @property
    def public_path(self) -> Path:
        return self.path.with_name(self.path.name + ".pub")


def _key(path: Path) -> KeyPair:
    public = generate_key(path)
    return KeyPair(load_private_key(path), public, path)


@pytest.fixture
def keys(tmp_path: Path) -> KeyPair:
    """The store's signing key."""
    return _key(tmp_path / "keys" / "audit.key")


@pytest.fixture
def other_keys(tmp_path: Path) -> KeyPair:
    """Somebody else's key."""
    return _key(tmp_path / "keys" / "other.key")


@pytest.fixture
def make_follower(engine: Engine, keys: KeyPair) -> Iterator[Callable[..., ChainFollower]]:
    """Chain followers on the test's store (signing with ``keys``); stopped at the end."""

    def make(**options: object) -> ChainFollower:
        return ChainFollower(engine.app, engine.sql, engine.lock(LOCK_NAME),
                             signer=keys.private, **options)  # type: ignore[arg-type]

    yield from closing_factory(make, ChainFollower.stop)


@pytest.fixture
def follower(make_follower: Callable[..., ChainFollower]) -> ChainFollower:
    """One chain follower with small batches (several per test store), signing checkpoints
    on demand only."""
    return make_follower(batch_size=64, checkpoint_every=None)


@pytest.fixture
def populated(engine: Engine) -> Engine:
    """The store with a dozen deals down the standard path, reps, quotas and refusals."""
    populate(engine)
    return engine
