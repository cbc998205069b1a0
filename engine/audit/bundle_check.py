"""``dealflow audit check-bundle``: verify an export bundle with the public key alone.

In order, each failure naming the file (and the event's position where there is one):
the manifest's signature and every file's hash; the checkpoint's signature and that it is
the one the manifest names; every event's inclusion proof against the checkpoint; then
the statements, recomputed from the bundle's events and plans with the commission view's
own code on an in-memory database, must equal ``statements.json``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from engine.audit.checkpoint import Checkpoint
from engine.audit.decode import logged_events, offline_mapper
from engine.audit.errors import BundleError, CheckpointError, ProofError
from engine.audit.keys import Ed25519PublicKey
from engine.audit.log import LogRow
from engine.audit.manifest import read_manifest
from engine.audit.proofs import InclusionProof, state_from_json
from engine.audit.statements import statements_from_events
from projections.commissions import PlanRegistry, plan_from_mapping
from projections.report import ReportParams

__all__ = ["BundleCheck", "check_bundle"]


@dataclass(frozen=True, slots=True)
class BundleCheck:
    """What a successful check covered."""

    period: str
    events: int
    statements: int
    checkpoint: Checkpoint
    params: ReportParams


def check_bundle(folder: Path, public_key: Ed25519PublicKey) -> BundleCheck:
    """Verify the bundle in ``folder``; raise :class:`BundleError` at the first failure."""
    manifest = read_manifest(folder, public_key)
    checkpoint = _checkpoint(folder, manifest, public_key)
    rows = _proven_rows(folder, checkpoint)
    if len(rows) != manifest.get("events"):
        raise BundleError(f"{folder / 'events.jsonl'}: {len(rows)} events, the manifest says "
                          f"{manifest.get('events')}")
    params = ReportParams(as_of=datetime.fromisoformat(manifest["as_of"]),
                          known_at=datetime.fromisoformat(manifest["known_at"]))
    plans = PlanRegistry()
    for item in _load(folder / "plans.json"):
        plans.add(plan_from_mapping(item, "plans.json"))
    with offline_mapper() as mapper:
        events = logged_events(mapper, rows)
    recomputed = statements_from_events(events, params, manifest["period"], plans)
    stated = _load(folder / "statements.json")
    if recomputed != stated:
        raise BundleError(f"{folder / 'statements.json'}: the statements do not recompute "
                          f"from the bundle's events: {_first_difference(stated, recomputed)}")
    return BundleCheck(manifest["period"], len(rows), len(stated["statements"]), checkpoint,
                       params)


def _checkpoint(folder: Path, manifest: dict[str, Any],
                public_key: Ed25519PublicKey) -> Checkpoint:
    path = folder / "checkpoint.json"
    try:
        checkpoint = Checkpoint.loads(path.read_bytes(), str(path))
    except (OSError, CheckpointError) as exc:
        raise BundleError(f"{path}: {exc}") from exc
    problem = checkpoint.signature_problem(public_key)
    if problem is not None:
        raise BundleError(f"{path}: the checkpoint is forged: {problem}",
                          position=checkpoint.position)
    named = manifest.get("checkpoint", {})
    if (named.get("size"), named.get("root")) != (checkpoint.size, checkpoint.root.hex()):
        raise BundleError(f"{path}: not the checkpoint the manifest names")
    return checkpoint


def _proven_rows(folder: Path, checkpoint: Checkpoint) -> list[LogRow]:
    """The events, each proven to be in the checkpoint's log at its position."""
    proofs: dict[int, dict[str, Any]] = {}
    for _, obj in _lines(folder / "proofs.jsonl"):
        proofs[int(obj["position"])] = obj
    rows: list[LogRow] = []
    for number, obj in _lines(folder / "events.jsonl"):
        try:
            row = LogRow(int(obj["position"]), str(obj["originator_id"]),
                         int(obj["originator_version"]), str(obj["topic"]),
                         state_from_json(obj))
        except (KeyError, TypeError, ValueError) as exc:
            raise BundleError(f"events.jsonl line {number}: malformed event: {exc}") from exc
        proof = proofs.get(row.position)
        if proof is None:
            raise BundleError(f"events.jsonl line {number}: no proof for position "
                              f"{row.position}", position=row.position)
        try:
            _proof(row, proof).check(checkpoint)
        except (KeyError, TypeError, ValueError) as exc:
            raise BundleError(f"proofs.jsonl: malformed proof of position {row.position}: "
                              f"{exc}", position=row.position) from exc
        except ProofError as exc:
            raise BundleError(f"events.jsonl line {number}: {exc}", position=row.position
                              ) from exc
        rows.append(row)
    return rows


def _proof(row: LogRow, obj: dict[str, Any]) -> InclusionProof:
    return InclusionProof(
        position=row.position, originator_id=row.originator_id,
        originator_version=row.originator_version, topic=row.topic, state=row.state,
        index=int(obj["index"]), size=int(obj["size"]), previous=bytes.fromhex(obj["previous"]),
        path=tuple(bytes.fromhex(p) for p in obj["path"]))


def _lines(path: Path) -> list[tuple[int, dict[str, Any]]]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise BundleError(f"{path}: {exc.strerror or exc}") from exc
    found: list[tuple[int, dict[str, Any]]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            try:
                found.append((number, json.loads(line)))
            except ValueError as exc:
                raise BundleError(f"{path} line {number}: not JSON: {exc}") from exc
    return found


def _load(path: Path) -> Any:
    try:
        return json.loads(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise BundleError(f"{path}: {exc}") from exc


def _first_difference(stated: Any, recomputed: Any, where: str = "") -> str:
    """Where two JSON values first differ, as a path."""
    if isinstance(stated, dict) and isinstance(recomputed, dict):
        for key in sorted(set(stated) | set(recomputed)):
            if stated.get(key) != recomputed.get(key):
                return _first_difference(stated.get(key), recomputed.get(key), f"{where}.{key}")
    if isinstance(stated, list) and isinstance(recomputed, list):
        for index, (a, b) in enumerate(zip(stated, recomputed, strict=False)):
            if a != b:
                return _first_difference(a, b, f"{where}[{index}]")
        if len(stated) != len(recomputed):
            return f"{where or 'top'}: {len(stated)} items stated, {len(recomputed)} recomputed"
    return f"{where or 'top'}: stated {stated!r}, recomputed {recomputed!r}"
