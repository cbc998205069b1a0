"""The forecast report over HTTP (the hand-built scenario of tests/projections/forecast), on
SQLite and PostgreSQL: rows in pages, filters and the period as query parameters, as known
at a time, a malformed period answered 422 naming it."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from tests.api.conftest import Fact, every_item
from tests.projections.forecast.scenario import SCENARIO

Q2 = {"period": "2026-Q2", "as_of": "2026-06-30"}


def test_forecast_over_http(admin_with: Callable[[list[Fact]], httpx.Client]) -> None:
    client = admin_with(SCENARIO)
    summary = client.get("/v1/forecast", params=Q2)
    assert summary.status_code == 200, summary.text
    body = summary.json()
    assert body["fields"]["period"] == "2026-Q2"
    assert {s["name"] for s in body["sections"]} >= {"rows", "no_close_date"}

    rows = every_item(client, "/v1/forecast/rows", **Q2, limit=3)
    assert len(rows) == 10
    total = next(r for r in rows if r["scope"] == "total" and r["currency"] == "CNY")
    assert (total["closed"], total["commit"], total["pipeline"], total["weighted"],
            total["pipeline_forecast"]) == (
        "22000.00", "15000.00", "3000.00", "8400.00", "40000.00")
    west = every_item(client, "/v1/forecast/rows", **Q2, team="west")
    assert {(r["scope"], r["name"], r["currency"]) for r in west} == {
        ("rep", "rep-b", "CNY"), ("rep", "rep-b", "USD"), ("team", "west", "CNY"),
        ("team", "west", "USD")}
    # Known before anything was recorded: nothing.
    before = every_item(client, "/v1/forecast/rows", **Q2, known_at="2020-01-01T00:00:00Z")
    assert before == []

    bad = client.get("/v1/forecast", params={**Q2, "period": "2026-06"})
    assert bad.status_code == 422 and "--period" in bad.text
