"""Reading over HTTP: deals and their histories, reports and their pages, as of and as known
at a time, the log export, rejections, view status and rebuild; on SQLite and PostgreSQL."""

from __future__ import annotations

import time
from typing import Any

from engine.serve.tokens import Role
from tests.api.conftest import Api, all_pages
from tests.engine.facts import STANDARD_PATH, fact, opened


def _won_deal(subject: str, owner: str = "rep-01") -> list[dict[str, Any]]:
    facts = [opened(subject, owner=owner)]
    for i, (type_, data) in enumerate(STANDARD_PATH):
        facts.append(fact(type_, subject, data, time=f"2026-01-{6 + i:02d}T10:00:00+08:00"))
    return facts


def test_deal_state_and_history(api: Api) -> None:
    with api.client(Role.ADMIN) as client:
        assert client.post("/v1/facts/batch", json=_won_deal("S-1")).json()["accepted"] == 12
        state = client.get("/v1/deals/S-1").json()
        assert (state["stage"], state["amount"], state["signed_amount"], state["version"]) == (
            "won", "11500.00", "11500.00", 12)
        assert "proposal.sent" in state["facts_seen"]
        pages = all_pages(client, "/v1/deals/S-1/history", limit=5)
        assert [len(p) for p in pages] == [5, 5, 2]
        events = [e for page in pages for e in page]
        assert [e["version"] for e in events] == list(range(1, 13))
        assert events[0]["type"] == "dealflow.deal.opened"
        assert events[0]["occurred_at"] == "2026-01-05T10:00:00+08:00"
        assert events[-1]["fields"]["amount"] == "11500.00"
        assert client.get("/v1/deals/NOPE").status_code == 404
        assert client.get("/v1/deals/NOPE/history").status_code == 404
        bad = client.get("/v1/deals/S-1/history", params={"cursor": "%%%"})
        assert bad.status_code == 400 and bad.json()["error"] == "invalid_cursor"


def test_reports_as_of_and_paged(api: Api) -> None:
    facts = [*_won_deal("W-1"), *_won_deal("W-2", owner="rep-02")]
    facts += [opened(f"O-{i}", owner=f"rep-{i:02d}") for i in range(5)]
    with api.client(Role.ADMIN) as client:
        position = client.post("/v1/facts/batch?wait=true", json=facts).json()["position"]
        summary = client.get("/v1/pipeline").json()
        assert summary["position"] == position
        sections = {s["name"]: s for s in summary["sections"]}
        assert sections["open"]["items"] == 5 and sections["open"]["href"] == "/v1/pipeline/open"
        pages = all_pages(client, "/v1/pipeline/open", limit=2)
        assert [len(p) for p in pages] == [2, 2, 1]
        assert sorted(r["owner"] for p in pages for r in p) == [f"rep-{i:02d}" for i in range(5)]
        assert client.get("/v1/pipeline/nope").status_code == 404

        before = client.get("/v1/pipeline/open", params={"as_of": "2026-01-01"}).json()
        assert before["total"] == 0 and before["as_of"].startswith("2026-01-01T23:59:59")
        month = client.get("/v1/pipeline/by_close_date", params={"close_by": "month"})
        assert month.status_code == 200
        assert client.get("/v1/pipeline", params={"close_by": "week"}).status_code == 422
        assert client.get("/v1/pipeline", params={"as_of": "yesterday"}).status_code == 422

        statements = client.get("/v1/commissions/statements",
                                params={"period": "2026-Q1"}).json()
        assert sorted(s["rep"] for s in statements["items"]) == ["rep-01", "rep-02"]
        assert {s["totals"]["CNY"] for s in statements["items"]} == {"575.00"}  # 5 % of 11,500
        known_before = client.get("/v1/commissions/statements", params={
            "known_at": "2020-01-01T00:00:00Z"}).json()
        assert known_before["total"] == 0

        overdue_now = client.get("/v1/sla/overdue", params={"limit": 1000}).json()
        early = client.get("/v1/sla/overdue", params={"as_of": "2026-01-05T10:30:00+08:00"})
        assert early.json()["total"] == 0 < overdue_now["total"]
        breaches = client.get("/v1/sla/breaches").json()
        assert breaches["total"] >= overdue_now["total"]
        index = client.get("/v1/reports").json()["items"]
        assert {"pipeline", "sla", "commissions"} <= {r["name"] for r in index}


def test_log_export_rejections_and_views(api: Api) -> None:
    bad = [fact("deal.stage_changed", f"G-{i}", {"to": "contact"}) for i in range(3)]
    with api.client(Role.ADMIN) as client:
        client.post("/v1/facts/batch", json=[opened("E-1"), opened("E-2"), *bad, {"id": 1}])
        log = all_pages(client, "/v1/log", limit=1)
        # Two openings, then the routing book's start and its record of the batch (1.1).
        assert [e["position"] for p in log for e in p] == [1, 2, 3, 4]
        assert [e["fields"]["account"] for p in log for e in p
                if "account" in e["fields"]] == ["acct-E-1", "acct-E-2"]
        rejected = all_pages(client, "/v1/rejections", limit=2, reason="deal_not_found")
        assert [len(p) for p in rejected] == [2, 1]
        counts = client.get("/v1/rejections/counts").json()
        assert counts == {"total": 4, "by_reason": {"deal_not_found": 3,
                                                    "invalid:type": 1}}
        views = client.get("/v1/views").json()
        assert views["head"] == 4 and views["views"]
        before = client.get("/v1/pipeline/open", params={"min_position": 4}).json()["items"]
        rebuilt = client.post("/v1/views/rebuild").json()
        assert all(v["position"] == 4 and v["lag"] == 0 for v in rebuilt["views"])
        assert client.get("/v1/pipeline/open").json()["items"] == before
        assert client.post("/v1/views/rebuild", params={"view": "nope"}).status_code == 404


def test_as_of_now_reports_are_cached_then_refreshed_in_the_background(
        make_api: Any) -> None:
    api: Api = make_api(api_report_max_age=0.3, api_report_stale_seconds=30)
    with api.client(Role.ADMIN) as client:
        first = client.post("/v1/facts?wait=true", json=opened("C-1")).json()["position"]
        seen = client.get("/v1/pipeline/open").json()
        assert seen["position"] == first and seen["total"] == 1
        second = client.post("/v1/facts?wait=true", json=opened("C-2", owner="rep-02")
                             ).json()["position"]
        cached = client.get("/v1/pipeline/open").json()
        assert (cached["position"], cached["computed_at"]) == (first, seen["computed_at"])
        fresh = client.get("/v1/pipeline/open", params={"min_position": second}).json()
        assert fresh["position"] == second and fresh["total"] == 2

        third = client.post("/v1/facts?wait=true", json=opened("C-3", owner="rep-03")
                            ).json()["position"]
        time.sleep(0.4)  # older than max_age, and the view moved: refreshed in background
        stale = client.get("/v1/pipeline/open").json()
        assert stale["position"] == second  # answered at once from the last computation
        for _ in range(100):
            latest = client.get("/v1/pipeline/open").json()
            if latest["position"] == third:
                break
            time.sleep(0.05)
        assert latest["position"] == third and latest["total"] == 3


def test_a_deals_sla_instances_and_report_filters(api: Api) -> None:
    facts = [opened("SLA-1", owner="rep-07", time="2026-01-05T10:00:00+08:00"),
             fact("activity.logged", "SLA-1", {"kind": "call", "purpose": "first_call"},
                  time="2026-01-05T11:00:00+08:00"),
             opened("SLA-2", owner="rep-08", time="2026-01-05T10:00:00+08:00")]
    with api.client(Role.ADMIN) as client:
        position = client.post("/v1/facts/batch?wait=true", json=facts).json()["position"]
        as_of = {"as_of": "2026-01-10", "min_position": position}
        mine = client.get("/v1/deals/SLA-1/sla", params=as_of)
        assert mine.status_code == 200, mine.text
        outcomes = {(i["rule"], i["outcome"]) for i in mine.json()["instances"]}
        # The call met first contact; no thank-you e-mail followed within 24 hours.
        assert outcomes == {("first_contact", "met"), ("thank_you_email", "breached")}
        assert client.get("/v1/deals/NOPE/sla").status_code == 404
        only = client.get("/v1/sla", params={**as_of, "deal": "SLA-2"}).json()
        assert only["fields"]["deal"] == "SLA-2"
        rows = client.get("/v1/sla/instances", params={**as_of, "deal": "SLA-2"}).json()
        assert [(i["subject"], i["rule"], i["outcome"]) for i in rows["items"]] == [
            ("SLA-2", "first_contact", "breached")]
        by_rep = client.get("/v1/sla/breaches", params={**as_of, "rep": "rep-07"}).json()
        assert {i["owner"] for i in by_rep["items"]} == {"rep-07"}
        assert client.get("/v1/sla", params={**as_of, "deal": "NOPE"}).status_code == 404
