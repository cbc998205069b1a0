"""The waterfall and accuracy reports over HTTP (the worked example of docs/forecast.md), on
SQLite and PostgreSQL: options as query parameters (instants read as ``as_of`` is), lists
in pages, a malformed option answered 422 naming it."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import httpx

from tests.api.conftest import Fact, every_item
from tests.projections.forecast import worked_example as ex

WINDOW = {"period": ex.PERIOD, "from": ex.T1, "to": ex.T2}


def test_waterfall_and_accuracy_over_http(
    admin_with: Callable[[list[Fact]], httpx.Client],
) -> None:
    client = admin_with(ex.facts())
    summary = client.get("/v1/waterfall", params=WINDOW)
    assert summary.status_code == 200, summary.text
    body = summary.json()
    assert body["fields"]["from"] == "2026-04-10T23:59:59.999999+08:00"
    assert body["fields"]["labels"]["won"] == 2
    rows = {r["currency"]: r for r in every_item(client, "/v1/waterfall/rows", **WINDOW)}
    assert (rows["CNY"]["start"], rows["CNY"]["end"]) == ("335000.00", "205000.00")

    deals = every_item(client, "/v1/waterfall/deals", **WINDOW, deals="true", limit=3)
    assert len(deals) == 8
    assert {d["deal"] for d in deals if d["term"] == "won"} == {"D-3", "D-9"}
    owners = every_item(client, "/v1/waterfall/rows", **WINDOW, by="owner")
    assert {(r["owner"], r["currency"]) for r in owners} == {
        ("alice", "CNY"), ("alice", "USD"), ("bob", "CNY"), ("carol", "CNY"),
        ("dave", "CNY")}

    bad = client.get("/v1/waterfall", params={**WINDOW, "by": "team"})
    assert bad.status_code == 422 and "--by" in bad.text
    bad = client.get("/v1/waterfall", params={**WINDOW, "from": "yesterday"})
    assert bad.status_code == 422 and "from" in bad.text

    reps = every_item(client, "/v1/accuracy/reps", period=ex.PERIOD, as_of=ex.ACCURACY_AT)
    carol = next(r for r in reps if r["rep"] == "carol")
    assert [c["error"] for c in carol["calls"]] == ["-0.1667", "0.1667", "0.0833"]
    assert Decimal(carol["latest"]["actual"]) == 60000
    one = every_item(client, "/v1/accuracy/reps", period=ex.PERIOD, as_of=ex.ACCURACY_AT,
               rep="bob")
    assert [(r["rep"], r["latest"]["error"]) for r in one] == [("bob", None)]
