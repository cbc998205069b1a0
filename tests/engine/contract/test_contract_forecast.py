"""Contract 1.1 forecast types: ``deal.forecast_set``, ``deal.expected_close_changed`` and
``forecast.submitted`` parse exactly as precise rule 9 says, each bad field named."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from engine.bootstrap import Engine
from engine.contract.data import (
    ExpectedCloseChangedData,
    ForecastSetData,
    ForecastSubmittedData,
)
from engine.contract.envelope import parse_fact
from engine.domain import Deal, Rep, deal_id, rep_id
from engine.errors import InvalidFactError
from tests.engine.conftest import send
from tests.engine.facts import fact, opened, raw


def reject(obj: dict[str, Any] | bytes) -> InvalidFactError:
    body = obj if isinstance(obj, bytes) else raw(obj)
    with pytest.raises(InvalidFactError) as caught:
        parse_fact(body)
    return caught.value


@pytest.mark.parametrize("category", ["pipeline", "best_case", "commit", "omitted", "auto"])
def test_every_category_parses(category: str) -> None:
    data = parse_fact(raw(fact("deal.forecast_set", "D-1", {"category": category}))).data
    assert isinstance(data, ForecastSetData)
    assert data.category == category


@pytest.mark.parametrize("category", ["Commit", "COMMIT", "closed", "won", "best case", "",
                                      None, 3, ["commit"]])
def test_bad_category_is_named(category: Any) -> None:
    error = reject(fact("deal.forecast_set", "D-1", {"category": category}))
    assert error.field == "data.category"


def test_missing_category_is_named() -> None:
    assert reject(fact("deal.forecast_set", "D-1", {})).field == "data.category"


def test_expected_close_parses_as_a_date() -> None:
    obj = fact("deal.expected_close_changed", "D-1", {"expected_close": "2026-06-30"})
    data = parse_fact(raw(obj)).data
    assert isinstance(data, ExpectedCloseChangedData)
    assert data.expected_close == date(2026, 6, 30)


@pytest.mark.parametrize("value", ["2026-02-30", "2026-6-30", "2026-06-30T00:00:00+08:00",
                                   "", None, 20260630])
def test_bad_expected_close_is_named(value: Any) -> None:
    error = reject(fact("deal.expected_close_changed", "D-1", {"expected_close": value}))
    assert error.field == "data.expected_close"


def submitted(**data: Any) -> dict[str, Any]:
    body = {"period": "2026-Q2", "amount": "150000.00", "currency": "CNY", **data}
    return fact("forecast.submitted", "rep-01", body)


def test_forecast_submitted_parses() -> None:
    data = parse_fact(raw(submitted(amount="150000.1"))).data
    assert isinstance(data, ForecastSubmittedData)
    assert (data.period, data.amount, data.currency) == ("2026-Q2", Decimal("150000.10"), "CNY")


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"period": "2026-03"}, "data.period"),  # a month is a quota period, not a forecast's
        ({"period": "2026-Q5"}, "data.period"),
        ({"period": "2026-q1"}, "data.period"),
        ({"period": "26-Q1"}, "data.period"),
        ({"period": 2026}, "data.period"),
        ({"amount": "100.005"}, "data.amount"),
        ({"amount": "-1"}, "data.amount"),
        ({"amount": "ten"}, "data.amount"),
        ({"amount": True}, "data.amount"),
        ({"currency": "cny"}, "data.currency"),
        ({"currency": "YUAN"}, "data.currency"),
    ],
)
def test_bad_submission_fields_are_named(data: dict[str, Any], field: str) -> None:
    assert reject(submitted(**data)).field == field


def test_the_three_types_are_recorded_as_their_events(engine: Engine) -> None:
    result = send(
        engine,
        opened("F-1", expected_close="2026-03-31"),
        fact("deal.forecast_set", "F-1", {"category": "commit"}),
        fact("deal.expected_close_changed", "F-1", {"expected_close": "2026-05-15"}),
        submitted(),
    )
    assert result.rejected == {}
    deal_events = list(engine.app.events.get(deal_id("F-1")))
    forecast = next(e for e in deal_events if isinstance(e, Deal.ForecastSet))
    moved = next(e for e in deal_events if isinstance(e, Deal.ExpectedCloseChanged))
    assert (forecast.category, moved.expected_close) == ("commit", date(2026, 5, 15))
    calls = [e for e in engine.app.events.get(rep_id("rep-01"))
             if isinstance(e, Rep.ForecastSubmitted)]
    assert [(c.period, c.amount, c.currency) for c in calls] == [
        ("2026-Q2", Decimal("150000.00"), "CNY")]


def test_forecast_facts_on_a_missing_deal_are_refused(engine: Engine) -> None:
    outcome = send(engine, fact("deal.forecast_set", "NOPE", {"category": "commit"})).outcomes[0]
    assert (outcome.status, outcome.reason) == ("rejected", "deal_not_found")
