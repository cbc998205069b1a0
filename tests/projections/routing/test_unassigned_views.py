"""The version 1 views accept deals with no owner (contract 1.1, precise rule 4): a deal
signed while unassigned earns commission lines only for the reps its splits name, and
counts for no rep in the KPIs; SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from engine.bootstrap import Engine
from projections.registry import build
from projections.report import ReportParams
from tests.engine.conftest import send
from tests.engine.facts import STANDARD_PATH, fact
from tests.engine.routing.helpers import unowned

AS_OF = ReportParams(as_of=datetime.fromisoformat("2026-03-31T00:00:00+08:00"))


def reports(engine: Engine, *names: str) -> list[dict[str, Any]]:
    runner = engine.runner()
    runner.catch_up()
    with runner.engine.connect() as conn:
        found = [build(name, conn, runner.live, AS_OF).to_json() for name in names]
    runner.close()
    return found


def test_unassigned_signing_pays_only_its_split_reps(engine: Engine) -> None:
    splits = [{"rep": "rep-x", "share": "0.6"}, {"rep": "rep-y", "share": "0.4"}]
    send(engine, unowned("D-1", splits=splits), unowned("D-2"),
         *(fact(t, "D-1", d) for t, d in STANDARD_PATH),
         *(fact(t, "D-2", d) for t, d in STANDARD_PATH))
    commissions, kpis = reports(engine, "commissions", "kpis")
    paid = {s["rep"]: [line["deal"] for line in s["lines"]] for s in commissions["statements"]}
    assert set(paid) == {"rep-x", "rep-y"}  # D-2 (no splits) earns no line at all
    assert {rep: [d["subject"] for d in deals] for rep, deals in paid.items()} == {
        "rep-x": ["D-1"], "rep-y": ["D-1"]}
    # KPIs: revenue follows the credit (the split reps); won deals count for no owner.
    rows = {r["name"]: r for r in kpis["reps"]}
    assert set(rows) == {"rep-x", "rep-y"}
    assert (rows["rep-x"]["revenue_won"], rows["rep-x"]["deals_won"]) == ({"CNY": "6900.00"}, 0)
