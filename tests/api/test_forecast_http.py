"""The forecast report over HTTP (the hand-built scenario of tests/projections/forecast), on
SQLite and PostgreSQL: rows in pages, filters and the period as query parameters, as known
at a time, a malformed period answered 422 naming it."""

from __future__ import annotations

from typing import Any

import httpx

from engine.serve.tokens import Role
from tests.api.conftest import Api
from tests.projections.forecast.scenario import SCENARIO

Q2 = {"period": "2026-Q2", "as_of": "2026-06-30"}


def _all(client: httpx.Client, path: str, **params: Any) -> list[Any]:
    items, cursor = [], None
    while True:
        body = client.get(path, params={**params, **({"cursor": cursor} if cursor else {})})
        assert body.status_code == 200, body.text
        items += body.json()["items"]
        cursor = body.json()["next_cursor"]
        if cursor is None:
            return items


def test_forecast_over_http(api: Api) -> None:
    with api.client(Role.ADMIN) as client:
        done = client.post("/v1/facts/batch?wait=true", json=SCENARIO).json()
        assert done["accepted"] == len(SCENARIO)

        summary = client.get("/v1/forecast", params=Q2)
        assert summary.status_code == 200, summary.text
        body = summary.json()
        assert body["fields"]["period"] == "2026-Q2"
        assert {s["name"] for s in body["sections"]} >= {"rows", "no_close_date"}

        rows = _all(client, "/v1/forecast/rows", **Q2, limit=3)
        assert len(rows) == 10
        total = next(r for r in rows if r["scope"] == "total" and r["currency"] == "CNY")
        assert (total["closed"], total["commit"], total["pipeline"], total["weighted"],
                total["pipeline_forecast"]) == (
            "22000.00", "15000.00", "3000.00", "8400.00", "40000.00")
        west = _all(client, "/v1/forecast/rows", **Q2, team="west")
        assert {(r["scope"], r["name"], r["currency"]) for r in west} == {
            ("rep", "rep-b", "CNY"), ("rep", "rep-b", "USD"), ("team", "west", "CNY"),
            ("team", "west", "USD")}
        # Known before anything was recorded: nothing.
        before = _all(client, "/v1/forecast/rows", **Q2, known_at="2020-01-01T00:00:00Z")
        assert before == []

        bad = client.get("/v1/forecast", params={**Q2, "period": "2026-06"})
        assert bad.status_code == 422 and "--period" in bad.text
