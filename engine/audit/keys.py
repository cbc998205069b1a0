"""Ed25519 keys that sign audit checkpoints (the ``cryptography`` package).

The private key is a PKCS#8 PEM file (mode 0600) at ``settings.audit_key``; its public key
sits beside it as ``<file>.pub`` (SubjectPublicKeyInfo PEM). An auditor keeps only the
public key. A key's *id* is the first 16 hex digits of SHA-256 of its 32 raw bytes: a
checkpoint names the key that signed it, so a checkpoint signed by another key is told
apart from one whose content was altered.
"""

from __future__ import annotations

import os
from hashlib import sha256
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from engine.audit.errors import AuditKeyError

__all__ = [
    "Ed25519PrivateKey",
    "Ed25519PublicKey",
    "generate_key",
    "key_id",
    "load_private_key",
    "load_public_key",
    "public_key_path",
]


def public_key_path(private_path: Path) -> Path:
    """Where the public key of the private key at ``private_path`` is kept."""
    return private_path.with_name(private_path.name + ".pub")


def key_id(key: Ed25519PublicKey) -> str:
    """The short id of a public key."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return sha256(raw).hexdigest()[:16]


def _public_pem(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.PEM,
                            serialization.PublicFormat.SubjectPublicKeyInfo)


def generate_key(path: Path, *, overwrite: bool = False) -> Ed25519PublicKey:
    """Create a private key at ``path`` (and its ``.pub``); refuse to replace one unless
    ``overwrite``, since checkpoints signed with the old key would no longer verify."""
    pub = public_key_path(path)
    if not overwrite and (path.exists() or pub.exists()):
        raise AuditKeyError(f"{path}: a key already exists (remove it or pass --force; "
                            "checkpoints signed with it will then need its public key)")
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    path.parent.mkdir(parents=True, exist_ok=True)
    if overwrite and path.exists():
        path.unlink()
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as out:
        out.write(pem)
    pub.write_bytes(_public_pem(key.public_key()))
    return key.public_key()


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """The signing key at ``path``."""
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except FileNotFoundError as exc:
        raise AuditKeyError(f"{path}: no signing key (create one with `dealflow audit keygen`"
                            " or set DEALFLOW_AUDIT_KEY)") from exc
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise AuditKeyError(f"{path}: not an unencrypted PEM private key: {exc}") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise AuditKeyError(f"{path}: not an Ed25519 key")
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    """The public key in ``path``: a public key PEM, or derived from a private key PEM."""
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise AuditKeyError(f"{path}: no public key file") from exc
    try:
        if b"PRIVATE KEY" in data:
            return load_private_key(path).public_key()
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise AuditKeyError(f"{path}: not a PEM public key: {exc}") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise AuditKeyError(f"{path}: not an Ed25519 public key")
    return key
