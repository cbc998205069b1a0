"""An input refused by validation keeps whichever of its ``source``, ``id``, ``type`` and
``subject`` are present and valid, in the outcome (and so the HTTP answer) and in the stored
rejection row; on SQLite and PostgreSQL."""

from __future__ import annotations

import json

import pytest

from engine.bootstrap import Engine
from engine.contract.envelope import FactIdentity, identity_of
from engine.serve.tokens import Role
from tests.api.conftest import Api, api, make_api
from tests.engine.conftest import send
from tests.engine.facts import fact

__all__ = ["api", "make_api"]


def bad_amount(subject: str = "D-9") -> dict[str, object]:
    """A valid envelope whose ``data.amount`` is not a decimal number."""
    return fact("deal.amount_changed", subject, {"amount": "lots", "currency": "CNY"},
                source="crm-mobile", id_="m-77")


def test_a_valid_envelope_with_bad_data_keeps_source_id_type_and_subject(
        engine: Engine) -> None:
    [outcome] = send(engine, bad_amount()).outcomes
    assert (outcome.status, outcome.reason) == ("rejected", "invalid:data.amount")
    assert (outcome.source, outcome.fact_id, outcome.fact_type) == (
        "crm-mobile", "m-77", "deal.amount_changed")
    [row] = engine.app.store.select_rejections()
    assert (row.source, row.fact_id, row.fact_type, row.subject) == (
        "crm-mobile", "m-77", "deal.amount_changed", "D-9")


@pytest.mark.parametrize(("changes", "kept"), [
    ({"source": 7}, FactIdentity(None, "m-77", "deal.amount_changed", "D-9")),
    ({"source": "  "}, FactIdentity(None, "m-77", "deal.amount_changed", "D-9")),
    ({"id": "x" * 129}, FactIdentity("crm-mobile", None, "deal.amount_changed", "D-9")),
    ({"type": "deal.teleported"}, FactIdentity("crm-mobile", "m-77", None, "D-9")),
    ({"subject": "D\x00-9"}, FactIdentity("crm-mobile", "m-77", "deal.amount_changed", None)),
    ({"time": "yesterday"}, FactIdentity("crm-mobile", "m-77", "deal.amount_changed", "D-9")),
])
def test_only_the_valid_parts_are_kept(engine: Engine, changes: dict[str, object],
                                       kept: FactIdentity) -> None:
    [outcome] = send(engine, {**bad_amount(), **changes}).outcomes
    assert outcome.status == "rejected"
    assert (outcome.source, outcome.fact_id, outcome.fact_type) == (
        kept.source, kept.id, kept.type)
    [row] = engine.app.store.select_rejections()
    assert FactIdentity(row.source, row.fact_id, row.fact_type, row.subject) == kept


@pytest.mark.parametrize("raw", [b"{oops", b"[1, 2]", b'"text"', b"\xff\xfe"])
def test_an_input_that_is_no_object_has_no_identity(raw: bytes) -> None:
    assert identity_of(raw) == FactIdentity()


def test_the_http_answer_names_the_refused_fact(api: Api) -> None:
    with api.client(Role.INGEST) as client:
        one = client.post("/v1/facts", json=bad_amount("H-9"))
        batch = client.post("/v1/facts/batch", content=json.dumps(
            [bad_amount("H-8"), {"id": "b-1", "source": "erp", "type": 3}]).encode(),
            headers={"Content-Type": "application/json"})
    assert one.status_code == 422
    assert one.json()["outcome"] == {
        "index": 0, "status": "rejected", "source": "crm-mobile", "id": "m-77",
        "type": "deal.amount_changed", "reason": "invalid:data.amount",
        "field": "data.amount", "message": one.json()["outcome"]["message"]}
    assert batch.status_code == 200, batch.text
    outcomes = batch.json()["outcomes"]
    assert [(o["source"], o["id"], o["type"], o["reason"]) for o in outcomes] == [
        ("crm-mobile", "m-77", "deal.amount_changed", "invalid:data.amount"),
        ("erp", "b-1", None, "invalid:time")]
