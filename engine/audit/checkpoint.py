"""Signed checkpoints: (log, size, position, chain head, Merkle root, time), Ed25519-signed.

A checkpoint is a small JSON document an auditor keeps. ``size`` is how many events the
chain held, ``position`` the log position of the last of them, ``head`` the chain head
(its last entry), ``root`` the RFC 6962 Merkle root of those entries and ``log`` the random
id the chain was given when it started, which tells one store's checkpoints from another's.
The signature covers every other field, as canonical JSON (sorted keys, no spaces).
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature

from engine.audit.errors import CheckpointError
from engine.audit.keys import Ed25519PrivateKey, Ed25519PublicKey, key_id

__all__ = ["FORMAT", "Checkpoint", "read_checkpoint"]

FORMAT = "dealflow-checkpoint/1"
_FIELDS = ("format", "log", "size", "position", "head", "root", "time", "key", "signature")


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A (possibly unsigned) checkpoint; see the module docstring."""

    log: str
    size: int
    position: int
    head: bytes
    root: bytes
    time: datetime
    key: str = ""
    signature: bytes = b""

    def body(self) -> dict[str, Any]:
        """The signed fields, JSON-ready."""
        return {
            "format": FORMAT,
            "log": self.log,
            "size": self.size,
            "position": self.position,
            "head": self.head.hex(),
            "root": self.root.hex(),
            "time": self.time.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "key": self.key,
        }

    def message(self) -> bytes:
        """The bytes the signature covers."""
        return json.dumps(self.body(), sort_keys=True, separators=(",", ":")).encode()

    def signed(self, private_key: Ed25519PrivateKey) -> Checkpoint:
        """This checkpoint signed by ``private_key`` (whose id it then names)."""
        named = replace(self, key=key_id(private_key.public_key()), signature=b"")
        return replace(named, signature=private_key.sign(named.message()))

    def signature_problem(self, public_key: Ed25519PublicKey) -> str | None:
        """``None`` if the signature holds under ``public_key``, else why not."""
        trusted = key_id(public_key)
        if not self.signature:
            return "it is not signed"
        try:
            public_key.verify(self.signature, self.message())
        except InvalidSignature:
            if self.key != trusted:
                return f"it is signed by key {self.key or '?'}, not by the trusted key {trusted}"
            return "its signature does not match its content (altered after signing)"
        return None

    def to_json(self) -> dict[str, Any]:
        """The document, signature included."""
        return {**self.body(), "signature": base64.b64encode(self.signature).decode()}

    def dumps(self) -> str:
        """The document as indented JSON text."""
        return json.dumps(self.to_json(), indent=2) + "\n"

    @classmethod
    def from_json(cls, obj: Any, origin: str = "checkpoint") -> Checkpoint:
        """Parse a document; :class:`CheckpointError` names the bad field."""
        if not isinstance(obj, dict):
            raise CheckpointError(f"{origin}: not a JSON object")
        missing = [name for name in _FIELDS if name not in obj]
        if missing:
            raise CheckpointError(f"{origin}: missing field(s) {', '.join(missing)}")
        if obj["format"] != FORMAT:
            raise CheckpointError(f"{origin}: format {obj['format']!r} is not {FORMAT!r}")
        try:
            checkpoint = cls(
                log=_text(obj, "log"),
                size=_count(obj, "size"),
                position=_count(obj, "position"),
                head=_digest(obj, "head"),
                root=_digest(obj, "root"),
                time=datetime.fromisoformat(_text(obj, "time").replace("Z", "+00:00")),
                key=_text(obj, "key"),
                signature=_base64(obj, "signature"),
            )
        except ValueError as exc:
            raise CheckpointError(f"{origin}: {exc}") from exc
        if checkpoint.time.utcoffset() is None:
            raise CheckpointError(f"{origin}: time has no UTC offset")
        return checkpoint

    @classmethod
    def loads(cls, text: str | bytes, origin: str = "checkpoint") -> Checkpoint:
        """Parse JSON text."""
        try:
            obj = json.loads(text)
        except ValueError as exc:
            raise CheckpointError(f"{origin}: not JSON: {exc}") from exc
        return cls.from_json(obj, origin)


def read_checkpoint(path: Path) -> Checkpoint:
    """Read a checkpoint file."""
    try:
        text = path.read_bytes()
    except OSError as exc:
        raise CheckpointError(f"{path}: {exc.strerror or exc}") from exc
    return Checkpoint.loads(text, str(path))


def _text(obj: dict[str, Any], name: str) -> str:
    value = obj[name]
    if not isinstance(value, str):
        raise ValueError(f"{name} must be a string")
    return value


def _count(obj: dict[str, Any], name: str) -> int:
    value = obj[name]
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer")
    return value


def _digest(obj: dict[str, Any], name: str) -> bytes:
    try:
        value = bytes.fromhex(_text(obj, name))
    except ValueError:
        value = b""
    if len(value) != 32:
        raise ValueError(f"{name} must be 64 hex digits")
    return value


def _base64(obj: dict[str, Any], name: str) -> bytes:
    try:
        return base64.b64decode(_text(obj, name), validate=True)
    except ValueError:
        raise ValueError(f"{name} must be base64") from None
