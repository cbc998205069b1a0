"""Posting facts over HTTP: one and in batches, with the contract's outcomes, positions for
read-your-writes and the rejection store; on SQLite and PostgreSQL."""

from __future__ import annotations

import json

import pytest

from engine.serve.tokens import Role
from tests.api.conftest import Api
from tests.engine.facts import fact, opened


def test_single_fact_accepted_duplicate_conflict_and_rule(api: Api) -> None:
    with api.client(Role.INGEST) as client:
        first = opened("H-1")
        accepted = client.post("/v1/facts", json=first)
        assert accepted.status_code == 201
        body = accepted.json()
        assert body["outcome"] == {"index": 0, "status": "accepted", "source": "crm-web",
                                   "id": first["id"], "type": "deal.opened", "reason": None,
                                   "field": None, "message": None}
        # The opening, then the routing book's start and its record of the batch (1.1).
        assert body["position"] == 3 and body["visible"] is None

        again = client.post("/v1/facts", json=first)
        assert again.status_code == 200
        assert again.json()["outcome"]["status"] == "duplicate"
        assert again.json()["position"] == 3  # nothing appended: the head covers it

        changed = dict(first, data={**first["data"], "amount": "1.00"})
        conflict = client.post("/v1/facts", json=changed)
        assert conflict.status_code == 422
        assert conflict.json()["outcome"]["reason"] == "conflict"
        assert conflict.json()["outcome"]["field"] == "id"

        jump = client.post("/v1/facts", json=fact("deal.stage_changed", "H-1",
                                                   {"to": "quote"}))
        assert jump.status_code == 422
        assert jump.json()["outcome"]["status"] == "rejected"
        assert jump.json()["outcome"]["reason"] == "stage_jump"


@pytest.mark.parametrize(("body", "reason"), [
    (b"{not json", "invalid:(body)"),
    (b'{"id": "x"}', "invalid:type"),
    (json.dumps(fact("deal.opened", "B-1", {"workflow": "standard"})).encode(),
     "invalid:data.account"),
    (json.dumps(fact("quote.issued", "B-1", {"amount": "100.005", "currency": "CNY"}))
     .encode(), "invalid:data.amount"),
])
def test_bad_bodies_are_rejected_with_the_field_and_stored(api: Api, body: bytes,
                                                           reason: str) -> None:
    with api.client(Role.INGEST) as client:
        response = client.post("/v1/facts", content=body,
                               headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert response.json()["outcome"]["reason"] == reason
    with api.client(Role.AUDITOR) as client:
        stored = client.get("/v1/rejections").json()["items"]
    assert [(r["reason"], r["raw"], r["origin"]) for r in stored] == [
        (reason, body.decode(), "http")]


def test_batch_gives_each_item_its_outcome_in_order(api: Api) -> None:
    items = [opened("B-1"), opened("B-2"), fact("activity.logged", "B-9", {"kind": "call"}),
             opened("B-1"), {"id": "z"}]
    items[3]["id"] = items[0]["id"]  # same (source, id) and content: a duplicate
    with api.client(Role.INGEST) as client:
        response = client.post("/v1/facts/batch", json=items)
    assert response.status_code == 200
    body = response.json()
    assert (body["inputs"], body["accepted"], body["duplicates"], body["rejected"],
            body["events"]) == (5, 2, 1, 2, 4)  # 2 openings, the routing book's 2
    assert [(o["index"], o["status"], o["reason"]) for o in body["outcomes"]] == [
        (0, "accepted", None), (1, "accepted", None), (2, "rejected", "deal_not_found"),
        (3, "duplicate", None), (4, "rejected", "invalid:type")]
    assert body["position"] == 4


def test_ndjson_batch_keeps_each_lines_bytes(api: Api) -> None:
    lines = [json.dumps(opened("N-1")), "  ", "{broken", json.dumps(opened("N-2"))]
    with api.client(Role.INGEST) as client:
        response = client.post("/v1/facts/batch", content="\n".join(lines).encode(),
                               headers={"content-type": "application/x-ndjson"})
    assert [o["status"] for o in response.json()["outcomes"]] == [
        "accepted", "rejected", "accepted"]
    with api.client(Role.AUDITOR) as client:
        stored = client.get("/v1/rejections").json()["items"]
    assert [(r["raw"], r["origin"]) for r in stored] == [("{broken", "http:1")]


def test_a_body_that_is_not_a_batch_is_one_rejected_input(api: Api) -> None:
    with api.client(Role.INGEST) as client:
        response = client.post("/v1/facts/batch", content=b'[{"id": 1},',
                               headers={"content-type": "application/json"})
        empty = client.post("/v1/facts/batch", json=[])
    assert response.status_code == 200
    assert [(o["status"], o["reason"]) for o in response.json()["outcomes"]] == [
        ("rejected", "invalid:(body)")]
    assert empty.json()["inputs"] == 0 and empty.json()["outcomes"] == []


def test_limits(make_api: object) -> None:
    api = make_api(api_max_batch=3, api_max_body_bytes=2048)  # type: ignore[operator]
    with api.client(Role.INGEST) as client:
        too_many = client.post("/v1/facts/batch", json=[opened(f"L-{i}") for i in range(4)])
        too_big = client.post("/v1/facts", content=b"x" * 4096)
    assert too_many.status_code == 413 and too_many.json()["error"] == "too_large"
    assert too_big.status_code == 413


def test_wait_and_min_position_give_read_your_writes(api: Api) -> None:
    with api.client(Role.ADMIN) as client:
        posted = client.post("/v1/facts/batch?wait=true",
                             json=[opened(f"R-{i}") for i in range(20)]).json()
        assert posted["visible"] is True
        pipeline = client.get("/v1/pipeline/open_by_stage").json()
        assert pipeline["position"] >= posted["position"]
        assert sum(r["deals"] for r in pipeline["items"]) == 20

        later = client.post("/v1/facts", json=opened("R-late")).json()
        read = client.get("/v1/pipeline/open_by_stage",
                          params={"min_position": later["position"]}).json()
        assert read["position"] >= later["position"]
        assert sum(r["deals"] for r in read["items"]) == 21

        beyond = client.get("/v1/pipeline", params={"min_position": 10_000})
        assert beyond.status_code == 400 and beyond.json()["error"] == "bad_position"
