"""API tokens: random secrets with a role, stored only as SHA-256 digests in the store.

A token reads ``dft_<id>_<secret>``. The id (not secret) finds the row; the digest of the
whole presented token is compared with the stored one in constant time. The table
``dealflow_api_tokens`` lives in the store's database, so every process serving the same
store sees the same tokens; a revocation takes effect at once in the process that made it
and within the verification cache's lifetime elsewhere.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import Column, Engine, MetaData, String, Table, insert, select, update

from engine.errors import DealflowError

__all__ = [
    "IssuedToken", "Role", "TokenError", "TokenInfo", "TokenRejectedError", "TokenStore",
]

_PREFIX = "dft"
_meta = MetaData()
TOKENS = Table(
    "dealflow_api_tokens",
    _meta,
    Column("token_id", String(32), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("role", String(16), nullable=False),
    Column("digest", String(64), nullable=False),
    Column("created_at", String(40), nullable=False),
    Column("revoked_at", String(40)),
)


class Role(StrEnum):
    """What a token may do (see :mod:`engine.api.auth` for the permissions of each)."""

    INGEST = "ingest"
    VIEWER = "viewer"
    AUDITOR = "auditor"
    ADMIN = "admin"


class TokenError(DealflowError):
    """A token operation cannot be done (unknown token, name taken, ...)."""


class TokenRejectedError(TokenError):
    """A presented token is not valid; ``reason`` is ``invalid`` or ``revoked``."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"token {reason}")
        self.reason = reason


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """A stored token, without its secret."""

    token_id: str
    name: str
    role: Role
    created_at: str
    revoked_at: str | None

    @property
    def active(self) -> bool:
        """Not revoked."""
        return self.revoked_at is None


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A newly created token: ``secret`` is shown once and never stored."""

    info: TokenInfo
    secret: str


def digest(token: str) -> str:
    """The stored form of a token."""
    return hashlib.sha256(token.encode()).hexdigest()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _info(row: object) -> TokenInfo:
    m = row._mapping  # type: ignore[attr-defined]
    return TokenInfo(m["token_id"], m["name"], Role(m["role"]), m["created_at"],
                     m["revoked_at"])


class TokenStore:
    """Create, list, revoke and verify tokens; verification results are cached briefly."""

    def __init__(self, engine: Engine, *, cache_seconds: float = 5.0) -> None:
        """Use ``engine`` (the store's database); creates the table if missing."""
        self.engine = engine
        self.cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, TokenInfo]] = {}
        self._lock = threading.Lock()
        _meta.create_all(engine, checkfirst=True)

    def create(self, role: Role | str, name: str) -> IssuedToken:
        """A new token for ``role``, named ``name`` (unique among active tokens)."""
        role = Role(role)
        if not name.strip() or len(name) > 200:
            raise TokenError("a token needs a name of 1 to 200 characters")
        if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in name):
            raise TokenError("a token name cannot contain control characters")
        token_id = secrets.token_hex(6)
        secret = f"{_PREFIX}_{token_id}_{secrets.token_urlsafe(32)}"
        info = TokenInfo(token_id, name, role, _now(), None)
        with self.engine.begin() as conn:
            taken = conn.execute(select(TOKENS.c.token_id).where(
                TOKENS.c.name == name, TOKENS.c.revoked_at.is_(None))).first()
            if taken is not None:
                raise TokenError(f"an active token is already named {name!r} "
                                 f"(id {taken[0]}); revoke it first or pick another name")
            conn.execute(insert(TOKENS).values(
                token_id=token_id, name=name, role=role.value, digest=digest(secret),
                created_at=info.created_at, revoked_at=None))
        return IssuedToken(info, secret)

    def list(self, *, include_revoked: bool = False, after: str = "",
             limit: int | None = None) -> list[TokenInfo]:
        """Tokens ordered by id, after id ``after``."""
        query = select(TOKENS).where(TOKENS.c.token_id > after).order_by(TOKENS.c.token_id)
        if not include_revoked:
            query = query.where(TOKENS.c.revoked_at.is_(None))
        if limit is not None:
            query = query.limit(limit)
        with self.engine.connect() as conn:
            return [_info(row) for row in conn.execute(query)]

    def find(self, id_or_name: str) -> TokenInfo:
        """The token with this id, else the active token with this name."""
        with self.engine.connect() as conn:
            row = conn.execute(select(TOKENS).where(TOKENS.c.token_id == id_or_name)).first()
            if row is None:
                row = conn.execute(select(TOKENS).where(
                    TOKENS.c.name == id_or_name, TOKENS.c.revoked_at.is_(None))).first()
        if row is None:
            raise TokenError(f"no token with id or active name {id_or_name!r}")
        return _info(row)

    def revoke(self, id_or_name: str) -> TokenInfo:
        """Revoke a token (by id, or by the name of an active token); idempotent."""
        found = self.find(id_or_name)
        if found.revoked_at is None:
            with self.engine.begin() as conn:
                conn.execute(update(TOKENS).where(TOKENS.c.token_id == found.token_id,
                                                  TOKENS.c.revoked_at.is_(None))
                             .values(revoked_at=_now()))
            found = self.find(found.token_id)
        with self._lock:
            self._cache = {k: v for k, v in self._cache.items()
                           if v[1].token_id != found.token_id}
        return found

    def verify(self, presented: str) -> TokenInfo:
        """The active token ``presented`` is; raises :class:`TokenRejectedError` if it is
        unknown or malformed (``invalid``) or revoked (``revoked``)."""
        parts = presented.split("_", 2)
        if len(parts) != 3 or parts[0] != _PREFIX or not parts[1]:
            raise TokenRejectedError("invalid")
        wanted = digest(presented)
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(wanted)
        if cached is not None and now - cached[0] < self.cache_seconds:
            return cached[1]
        with self.engine.connect() as conn:
            row = conn.execute(select(TOKENS).where(TOKENS.c.token_id == parts[1])).first()
        if row is None or not hmac.compare_digest(row._mapping["digest"], wanted):
            raise TokenRejectedError("invalid")
        info = _info(row)
        if not info.active:
            raise TokenRejectedError("revoked")
        if self.cache_seconds > 0:
            with self._lock:
                if len(self._cache) > 10_000:
                    self._cache.clear()
                self._cache[wanted] = (now, info)
        return info
