"""A bundle's manifest: what is in it, the hash of every file, signed like a checkpoint.

The checkpoint proves each event was in the log; the signed manifest binds the set of
events, the plans and the statements to that checkpoint, so that nothing can be dropped
from or added to a bundle after export without the signature failing.
"""

from __future__ import annotations

import base64
import json
from hashlib import sha256
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature

from engine.audit.errors import BundleError
from engine.audit.keys import Ed25519PrivateKey, Ed25519PublicKey, key_id

__all__ = ["BUNDLE_FORMAT", "file_digest", "read_manifest", "sign_manifest"]

BUNDLE_FORMAT = "dealflow-audit-bundle/1"


def file_digest(path: Path) -> str:
    """SHA-256 of a file, hex."""
    return sha256(path.read_bytes()).hexdigest()


def _message(body: dict[str, Any]) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def sign_manifest(body: dict[str, Any], private_key: Ed25519PrivateKey) -> dict[str, Any]:
    """``body`` with the signing key's id and the signature."""
    named = {**body, "format": BUNDLE_FORMAT, "key": key_id(private_key.public_key())}
    return {**named, "signature": base64.b64encode(private_key.sign(_message(named))).decode()}


def read_manifest(folder: Path, public_key: Ed25519PublicKey) -> dict[str, Any]:
    """The manifest of the bundle in ``folder``, its signature and file hashes checked."""
    path = folder / "manifest.json"
    try:
        manifest = json.loads(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise BundleError(f"{path}: cannot read the manifest: {exc}") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != BUNDLE_FORMAT:
        raise BundleError(f"{path}: not a {BUNDLE_FORMAT} manifest")
    body = {k: v for k, v in manifest.items() if k != "signature"}
    try:
        public_key.verify(base64.b64decode(str(manifest.get("signature", ""))), _message(body))
    except (InvalidSignature, ValueError) as exc:
        trusted = key_id(public_key)
        why = (f"it is signed by key {body.get('key')}, not by the trusted key {trusted}"
               if body.get("key") != trusted else "it was altered after signing")
        raise BundleError(f"{path}: the manifest's signature does not hold: {why}") from exc
    files = manifest.get("files")
    if not isinstance(files, dict):
        raise BundleError(f"{path}: no file list")
    for name, digest in sorted(files.items()):
        member = folder / name
        if not member.is_file():
            raise BundleError(f"{member}: missing from the bundle")
        if file_digest(member) != digest:
            raise BundleError(f"{member}: altered after export (its hash is not the signed one)")
    return manifest
