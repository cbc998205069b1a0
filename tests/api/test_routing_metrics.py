"""/metrics: routing gauges (assignments by rule, unassigned deals, open load per rep), read
from the routing view by the process that keeps the views; and ``GET /v1/routing``; on
SQLite and PostgreSQL."""

from __future__ import annotations

from engine.serve.tokens import Role
from tests.api.conftest import Api
from tests.engine.routing.helpers import profile, unowned


def test_routing_gauges(api: Api) -> None:
    batch = [profile("rep-a", capacity=1), profile("rep-b"),
             unowned("D-1", segment="high_value"), unowned("D-2"), unowned("D-3"),
             profile("rep-b", time="2026-01-02T00:00:00+08:00", active=False),
             unowned("D-4")]
    with api.client(Role.INGEST) as client:
        posted = client.post("/v1/facts/batch?wait=true", json=batch)
    assert posted.json()["visible"] is True
    scraped = api.metrics()
    # D-1 high_value (least_loaded: rep-a), D-2 everyone (rep-b: rep-a is full), D-3 rep-b,
    # D-4: rep-b inactive since 01-02, rep-a full: unassigned.
    assert scraped['dealflow_routing_assignments{rule="high_value"}'] == 1
    assert scraped['dealflow_routing_assignments{rule="everyone"}'] == 2
    assert scraped['dealflow_routing_unassigned_deals{state="routed"}'] == 1
    assert scraped['dealflow_routing_unassigned_deals{state="open"}'] == 1
    assert scraped['dealflow_routing_open_load{rep="rep-a"}'] == 1
    assert scraped['dealflow_routing_open_load{rep="rep-b"}'] == 2
    with api.client(Role.VIEWER) as viewer:
        read = viewer.get("/v1/routing", params={"period": "2026-Q1"})
        assert read.status_code == 200, read.text
        fields = read.json()["fields"]
        assert fields["rules"] == {"everyone": 2, "high_value": 1}
        assert fields["unassigned"]["deals"] == ["D-4"]
        reps = viewer.get("/v1/routing/reps").json()
        assert {r["rep"]: r["open_load"] for r in reps["items"]} == {"rep-a": 1, "rep-b": 2}
        bad = viewer.get("/v1/routing", params={"period": "2026-13"})
        assert bad.status_code in (400, 422)


def test_a_deal_without_owner_reads_over_http(api: Api) -> None:
    with api.client(Role.INGEST) as client:
        posted = client.post("/v1/facts/batch?wait=true",
                             json=[unowned("U-1", territory="north")])
    assert posted.json()["accepted"] == 1
    with api.client(Role.VIEWER) as viewer:
        read = viewer.get("/v1/deals/U-1")
        assert read.status_code == 200, read.text
        assert (read.json()["owner"], read.json()["territory"]) == (None, "north")
        assert viewer.get("/v1/deals/U-1/sla").status_code == 200
