"""Export bundles: a round trip (export, check offline, statements equal to the store's
report as known at export time) on both backends, and tampered bundles refused."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from engine.audit import BundleError, ChainFollower, read_checkpoint
from engine.audit.bundle import BundleSummary, export_bundle
from engine.audit.bundle_check import check_bundle
from engine.audit.commission import store_report
from engine.audit.decode import logged_events, offline_mapper
from engine.audit.log import LogRow
from engine.audit.manifest import file_digest, sign_manifest
from engine.audit.periods import period_end
from engine.audit.proofs import state_from_json
from engine.audit.statements import statements_from_events
from engine.bootstrap import Engine
from projections.commissions import PlanRegistry
from projections.report import ReportParams
from tests.audit.conftest import KeyPair
from tests.audit.helpers import deal_facts
from tests.engine.conftest import send
from tests.engine.facts import fact

Q1 = "2026-Q1"


def export(engine: Engine, follower: ChainFollower, keys: KeyPair, folder: Path,
           period: str = Q1) -> BundleSummary:
    assert follower.signer is keys.private
    return export_bundle(engine.app, engine.runner(["commissions"]), follower, folder, period)


def report_known_at(engine: Engine, summary: BundleSummary) -> dict[str, Any]:
    params = ReportParams(as_of=period_end(summary.period), known_at=summary.checkpoint.time)
    return store_report(engine.runner(["commissions"]), params, period=summary.period).to_json()


def bundle_events(folder: Path) -> list[LogRow]:
    rows = []
    for line in (folder / "events.jsonl").read_text().splitlines():
        obj = json.loads(line)
        rows.append(LogRow(obj["position"], obj["originator_id"], obj["originator_version"],
                           obj["topic"], state_from_json(obj)))
    return rows


def test_round_trip(populated: Engine, follower: ChainFollower, keys: KeyPair,
                    tmp_path: Path) -> None:
    folder = tmp_path / "bundle"
    summary = export(populated, follower, keys, folder)
    # Facts recorded after the export: a late quota change for Q1 and another signing.
    send(populated,
         fact("rep.quota_set", "rep-01", {"period": Q1, "amount": "20000.00", "currency": "CNY"},
              time="2026-03-01T09:00:00+08:00"),
         *deal_facts("AFTER", 20, "rep-01", month=3))
    checked = check_bundle(folder, keys.public)
    assert (checked.period, checked.events, checked.checkpoint) == (
        Q1, summary.events, summary.checkpoint)
    stated = json.loads((folder / "statements.json").read_text())
    known_then = report_known_at(populated, summary)
    assert stated == known_then
    with offline_mapper() as mapper:
        events = logged_events(mapper, bundle_events(folder))
    assert statements_from_events(events, summary.params, Q1, PlanRegistry.shipped()) \
        == known_then
    kinds = {line["kind"] for s in stated["statements"] for line in s["lines"]}
    assert kinds == {"rate", "bonus", "clawback"}
    assert {s["rep"] for s in stated["statements"]} == {"rep-01", "rep-02"}
    known_now = store_report(populated.runner(["commissions"]),
                             ReportParams(as_of=period_end(Q1)), period=Q1)
    assert known_now.to_json()["statements"] != known_then["statements"]
    with follower.engine.connect() as conn:
        assert summary.events < follower.log.last_position(conn) / 3  # only what counts


def test_a_clawback_brings_the_earlier_period_along(engine: Engine, follower: ChainFollower,
                                                   keys: KeyPair, tmp_path: Path) -> None:
    send(engine,
         fact("rep.quota_set", "rep-01", {"period": Q1, "amount": "20000.00",
                                          "currency": "CNY"}, time="2026-01-01T09:00:00+08:00"),
         *deal_facts("EARLY", 10, "rep-01", amount="15000.00", month=3),
         *deal_facts("CANCELLED", 20, "rep-01", amount="9000.00", month=3),
         *deal_facts("OTHER-REP", 21, "rep-02", month=3),
         fact("contract.cancelled", "CANCELLED", {"reason": "refund"},
              time="2026-04-10T10:00:00+08:00"))
    folder = tmp_path / "q2"
    summary = export(engine, follower, keys, folder, "2026-Q2")
    stated = json.loads((folder / "statements.json").read_text())
    lines = [line for s in stated["statements"] for line in s["lines"]]
    assert {line["kind"] for line in lines} == {"clawback"}
    assert len(lines) == 2  # the deal crossed the quota: one line per rate, both reversed
    assert stated == report_known_at(engine, summary)
    topics = {row.topic for row in bundle_events(folder)}
    assert "dealflow.deal.contract_signed" in topics  # EARLY's signing: it set the tier
    assert check_bundle(folder, keys.public).statements == 1


@pytest.fixture
def bundle(populated: Engine, follower: ChainFollower, keys: KeyPair, tmp_path: Path) -> Path:
    folder = tmp_path / "bundle"
    export(populated, follower, keys, folder)
    return folder


def resign(folder: Path, keys: KeyPair) -> None:
    """Re-sign the manifest over the files as they now are (an insider with the key)."""
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest.pop("signature")
    manifest["files"] = {name: file_digest(folder / name) for name in manifest["files"]}
    (folder / "manifest.json").write_text(json.dumps(sign_manifest(manifest, keys.private)))


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_a_dropped_event_is_refused(bundle: Path, keys: KeyPair, other_keys: KeyPair) -> None:
    lines = (bundle / "events.jsonl").read_text().splitlines(keepends=True)
    (bundle / "events.jsonl").write_text("".join(lines[1:]))
    with pytest.raises(BundleError, match=r"events\.jsonl: altered after export"):
        check_bundle(bundle, keys.public)
    resign(bundle, other_keys)
    with pytest.raises(BundleError, match=r"signed by key .*, not by the trusted key"):
        check_bundle(bundle, keys.public)
    resign(bundle, keys)
    with pytest.raises(BundleError, match=r"events, the manifest says"):
        check_bundle(bundle, keys.public)


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_a_changed_event_fails_its_proof(bundle: Path, keys: KeyPair) -> None:
    lines = (bundle / "events.jsonl").read_text().splitlines(keepends=True)
    obj = json.loads(lines[5])
    obj["state"] = obj["state"].replace("CNY", "USD", 1).replace("rep-0", "rep-9", 1)
    lines[5] = json.dumps(obj) + "\n"
    (bundle / "events.jsonl").write_text("".join(lines))
    resign(bundle, keys)
    with pytest.raises(BundleError, match=f"position {obj['position']} is not entry") as caught:
        check_bundle(bundle, keys.public)
    assert caught.value.position == obj["position"]


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_changed_statements_do_not_recompute(bundle: Path, keys: KeyPair) -> None:
    statements = json.loads((bundle / "statements.json").read_text())
    line = statements["statements"][0]["lines"][0]
    line["amount"] = "1.00"
    (bundle / "statements.json").write_text(json.dumps(statements))
    resign(bundle, keys)
    with pytest.raises(BundleError, match=r"statements\[0\]\.lines\[0\]\.amount: stated '1.00'"):
        check_bundle(bundle, keys.public)


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_a_checkpoint_from_another_key_is_refused(bundle: Path, keys: KeyPair,
                                                  other_keys: KeyPair) -> None:
    forged = read_checkpoint(bundle / "checkpoint.json").signed(other_keys.private)
    (bundle / "checkpoint.json").write_text(forged.dumps())
    resign(bundle, keys)
    with pytest.raises(BundleError, match="the checkpoint is forged: it is signed by key"):
        check_bundle(bundle, keys.public)


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_export_refuses_a_used_folder(populated: Engine, follower: ChainFollower,
                                      keys: KeyPair, bundle: Path) -> None:
    with pytest.raises(Exception, match="not an empty folder"):
        export(populated, follower, keys, bundle)
