"""Forecast overrides (CONTRACT 1.1, precise rule 6): an override survives stage changes,
``auto`` returns to the stage's category, closing does not clear it (a reopened deal takes it
back), and the latest by time wins (ties by source, id), whatever the arrival order."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from engine.bootstrap import Engine
from projections.forecast import DealState, ForecastProjection, deal_states
from projections.report import ReportParams
from tests.engine.facts import fact, opened
from tests.projections.forecast.scenario import at
from tests.projections.forecast.support import forecast_runner, ingest

STEPS: list[tuple[str, dict[str, Any]]] = [
    ("activity.logged", {"kind": "call"}),
    ("deal.stage_changed", {"to": "contact"}),
    ("deal.customer_info_captured", {"contact_name": "Li"}),
    ("deal.stage_changed", {"to": "needs_analysis"}),
    ("deal.needs_recorded", {"summary": "s"}),
    ("deal.stage_changed", {"to": "proposal"}),
]


def state(engine: Engine, subject: str, moment: str) -> DealState:
    with forecast_runner(engine) as runner:
        runner.catch_up()
        view = runner.live["forecast"]
        assert isinstance(view, ForecastProjection)
        with runner.engine.connect() as conn:
            states = deal_states(conn, view, ReportParams(as_of=datetime.fromisoformat(moment)))
    return next(s for s in states if s.subject == subject)


def opened_on(subject: str) -> dict[str, Any]:
    return opened(subject, expected_close="2026-05-20", time=at(4, 1, 9))


def test_an_override_survives_stage_changes_and_auto_restores_the_stages(
        engine: Engine) -> None:
    ingest(engine, [
        opened_on("O-1"),
        fact("deal.forecast_set", "O-1", {"category": "commit"}, time=at(4, 2)),
        *[fact(t, "O-1", d, time=at(4, 3, 10, i)) for i, (t, d) in enumerate(STEPS)],
        fact("deal.forecast_set", "O-1", {"category": "auto"}, time=at(4, 4)),
    ])
    assert (state(engine, "O-1", at(4, 1, 12)).category) == "pipeline"  # lead
    held = state(engine, "O-1", at(4, 3, 12))
    assert (held.stage, held.override, held.category) == ("proposal", "commit", "commit")
    back = state(engine, "O-1", at(4, 5))
    assert (back.stage, back.override, back.category) == ("proposal", "auto", "best_case")


def test_closing_does_not_clear_an_override_a_reopened_deal_takes_it_back(
        engine: Engine) -> None:
    ingest(engine, [
        opened_on("O-2"),
        fact("deal.forecast_set", "O-2", {"category": "best_case"}, time=at(4, 2)),
        fact("deal.lost", "O-2", {"reason": "budget"}, time=at(4, 3)),
        fact("deal.reopened", "O-2", {}, time=at(4, 10)),
    ])
    lost = state(engine, "O-2", at(4, 5))
    assert (lost.stage, lost.is_open, lost.override, lost.category) == (
        "lost", False, "best_case", "omitted")
    reopened = state(engine, "O-2", at(4, 11))
    assert (reopened.stage, reopened.is_open, reopened.category) == ("lead", True, "best_case")


def test_the_latest_by_time_wins_not_the_last_to_arrive(engine: Engine) -> None:
    ingest(engine, [
        opened_on("O-3"),
        fact("deal.forecast_set", "O-3", {"category": "omitted"}, time=at(4, 5)),
        # Arrives later, happened earlier: it does not replace the call of 04-05.
        fact("deal.forecast_set", "O-3", {"category": "commit"}, time=at(4, 4)),
        fact("deal.expected_close_changed", "O-3", {"expected_close": "2026-08-01"},
             time=at(4, 6)),
        fact("deal.expected_close_changed", "O-3", {"expected_close": "2026-06-01"},
             time=at(4, 5)),
        # Same time: ties by (source, id), so ``zz`` after ``aa`` whatever the arrival.
        fact("deal.forecast_set", "O-3", {"category": "pipeline"}, time=at(4, 7),
             source="zz"),
        fact("deal.forecast_set", "O-3", {"category": "best_case"}, time=at(4, 7),
             source="aa"),
    ])
    assert state(engine, "O-3", at(4, 4, 12)).category == "commit"
    later = state(engine, "O-3", at(4, 6, 12))
    assert (later.category, later.period) == ("omitted", "2026-Q3")
    assert state(engine, "O-3", at(4, 5, 12)).period == "2026-Q2"
    assert state(engine, "O-3", at(4, 8)).category == "pipeline"
