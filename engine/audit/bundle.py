"""``dealflow audit export``: a self-contained bundle of one period's commission statements.

A bundle is a folder:

``checkpoint.json``  a checkpoint signed at export time (its time is the *known at* time)
``events.jsonl``     every event the statements depend on (:mod:`engine.audit.scope`), as
                     stored: position, aggregate id and version, topic, stored bytes
``proofs.jsonl``     each event's inclusion proof against the checkpoint
``plans.json``       the commission plan versions the statements were computed with
``statements.json``  the store's commission report for the period, as known at export time
``manifest.json``    period, report times and every file's SHA-256, signed

:func:`engine.audit.bundle_check.check_bundle` verifies it with the public key alone. The
export runs that check itself before it moves the bundle into place.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from engine.audit.bundle_check import check_bundle
from engine.audit.checkpoint import Checkpoint
from engine.audit.commission import store_report
from engine.audit.decode import logged_events
from engine.audit.errors import AuditError, BundleError
from engine.audit.follower import ChainFollower
from engine.audit.log import EventLog, LogRow
from engine.audit.manifest import file_digest, sign_manifest
from engine.audit.periods import period_bounds, period_end
from engine.audit.proofs import InclusionProof, Prover, state_to_json
from engine.audit.scope import COMMISSION_TOPICS, select_for_period
from engine.store.app import DealflowApplication
from projections.commissions import CommissionsProjection, PlanRegistry
from projections.report import ReportParams
from projections.runner import ProjectionRunner

__all__ = ["BundleSummary", "export_bundle"]

FILES = ("checkpoint.json", "events.jsonl", "proofs.jsonl", "plans.json", "statements.json")


@dataclass(frozen=True, slots=True)
class BundleSummary:
    """What an export wrote."""

    path: Path
    period: str
    events: int
    statements: int
    checkpoint: Checkpoint
    params: ReportParams


def export_bundle(app: DealflowApplication, runner: ProjectionRunner, follower: ChainFollower,
                  out: Path, period: str, *, as_of: datetime | None = None) -> BundleSummary:
    """Write the bundle of ``period`` to the folder ``out`` (which must not exist yet or
    be empty); see the module docstring. ``runner`` applies the commission view, whose
    ``plans`` go into the bundle; ``follower`` (with its signing key) extends and signs the
    chain. ``as_of`` defaults to the period's last instant."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise AuditError(f"{out}: exists and is not an empty folder")
    signer = follower.signer
    if signer is None:
        raise AuditError("a bundle is signed: the chain follower needs the signing key")
    view = runner.live[CommissionsProjection.name]
    assert isinstance(view, CommissionsProjection)
    plans = view.plans
    checkpoint = _checkpoint(follower)
    params = ReportParams(as_of=as_of or period_end(period), known_at=checkpoint.time)
    statements = store_report(runner, params, period=period).to_json()
    rows, events = _dependencies(app, follower, checkpoint, period)
    proofs = Prover(app, follower.engine).inclusion([r.position for r in rows], checkpoint)
    with tempfile.TemporaryDirectory(dir=out.parent if out.parent.exists() else None) as tmp:
        staging = Path(tmp) / "bundle"
        staging.mkdir()
        _write(staging, checkpoint, rows, proofs, plans, statements)
        manifest = {
            "period": period, "as_of": params.as_of.isoformat(),
            "known_at": checkpoint.time.isoformat(), "events": len(rows),
            "checkpoint": {"size": checkpoint.size, "position": checkpoint.position,
                           "root": checkpoint.root.hex()},
            "files": {name: file_digest(staging / name) for name in FILES},
        }
        _dump(staging / "manifest.json", sign_manifest(manifest, signer))
        try:
            check_bundle(staging, signer.public_key())
        except BundleError as exc:
            raise BundleError(f"the bundle does not check (nothing was written): {exc}",
                              position=exc.position) from exc
        out.mkdir(parents=True, exist_ok=True)
        for item in staging.iterdir():
            shutil.move(str(item), out / item.name)
    return BundleSummary(out, period, len(events), len(statements["statements"]), checkpoint,
                         params)


def _checkpoint(follower: ChainFollower) -> Checkpoint:
    """Chain everything logged so far, then sign a checkpoint of it."""
    head = follower.head()
    if follower.lock.acquire():
        try:
            follower.catch_up()
        finally:
            follower.lock.release()
    elif not follower.wait(head, timeout=60):
        raise AuditError("the audit chain is behind the log and its follower does not catch up")
    return follower.checkpoint()


def _dependencies(app: DealflowApplication, follower: ChainFollower, checkpoint: Checkpoint,
                  period: str) -> tuple[list[LogRow], list[Any]]:
    """The stored rows (and decoded events) the period's statements depend on."""
    log = EventLog(app, follower.engine)
    with follower.engine.connect() as conn:
        rows = log.with_topics(conn, COMMISSION_TOPICS, checkpoint.position)
    events = logged_events(app.mapper, rows)
    start, end = period_bounds(period)
    chosen = select_for_period(events, start, end)
    keep = {e.position for e in chosen}
    return [r for r in rows if r.position in keep], chosen


def _write(folder: Path, checkpoint: Checkpoint, rows: Sequence[LogRow],
           proofs: Sequence[InclusionProof], plans: PlanRegistry,
           statements: dict[str, Any]) -> None:
    (folder / "checkpoint.json").write_text(checkpoint.dumps())
    with (folder / "events.jsonl").open("w") as out:
        for row in rows:
            out.write(json.dumps({
                "position": row.position, "originator_id": row.originator_id,
                "originator_version": row.originator_version, "topic": row.topic,
                **state_to_json(row.state)}, ensure_ascii=False) + "\n")
    with (folder / "proofs.jsonl").open("w") as out:
        for proof in proofs:
            out.write(json.dumps({"position": proof.position, "index": proof.index,
                                  "size": proof.size, "previous": proof.previous.hex(),
                                  "path": [p.hex() for p in proof.path]}) + "\n")
    _dump(folder / "plans.json", [plan.model_dump(mode="json") for plan in plans])
    _dump(folder / "statements.json", statements)


def _dump(path: Path, obj: Any) -> None:
    path.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n")
