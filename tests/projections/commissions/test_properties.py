"""Invariants over random valid fact streams, on SQLite and PostgreSQL: arrival order does
not change statements; batch boundaries do not change the tables; rebuild equals live."""

from __future__ import annotations

from datetime import timedelta
from itertools import count
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.bootstrap import Engine
from engine.store.app import DealflowApplication
from engine.store.log import LoggedEvent
from projections.commissions import CommissionsProjection
from projections.runner import ProjectionRunner
from tests.engine.conftest import send
from tests.projections.commissions.facts import ingest, report, table_rows
from tests.projections.commissions.scenarios import (
    BASE,
    DealSpec,
    Scenario,
    late_order,
    normalize,
    plans_with_cash,
    render,
    scenarios,
)
from tests.projections.commissions.test_worked_example import worked_example

_examples = count(1)
PLANS = plans_with_cash()
#: Two reps, a cash-plan rep, a split deal, payments and a cancellation inside the window.
MIXED = Scenario(
    deals=(
        DealSpec("r1", "r2", ("0.25", "0.75"), 12_345_67, "CNY", BASE + timedelta(days=10),
                 "esign", ((24, 500_000), (2000, 700_000)), 100),
        DealSpec("r2", "r2", None, 99_00, "USD", BASE + timedelta(days=95), "crm-web", (), None),
    ),
    quotas=(("r1", "2026-Q1", 5_000_000, "CNY", BASE, "hr"),),
    assignments=(("r2", "cash-test", BASE, BASE),),
)


def _max_examples(request: pytest.FixtureRequest) -> int:
    return 8 if "postgres" in request.node.callspec.id else 25


def _settings(request: pytest.FixtureRequest) -> settings:
    return settings(max_examples=_max_examples(request), deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])


def _statements(runner: ProjectionRunner, prefix: str, deals: dict[str, str]) -> Any:
    found = report(runner, plans=PLANS).to_json()
    mine = [s for s in found["statements"] if s["rep"].startswith(prefix)]
    warnings = [w for w in found["warnings"] if prefix in w]
    return normalize({"statements": mine, "warnings": warnings}, prefix, deals)


def test_arrival_order_does_not_change_statements(
        engine: Engine, runner: ProjectionRunner, request: pytest.FixtureRequest) -> None:
    @_settings(request)
    @given(scenario=scenarios(), chosen=st.sets(st.integers(0, 80)),
           seed=st.integers(0, 2**16))
    def check(scenario: Scenario, chosen: set[int], seed: int) -> None:
        n = next(_examples)
        in_time, late = f"x{n}a-", f"x{n}b-"
        first = render(scenario, in_time)
        ingest(engine, first.facts)
        second = render(scenario, late)
        ingest(engine, late_order(second, chosen or set(second.late), seed))
        expected = _statements(runner, in_time, first.deals)
        assert _statements(runner, late, second.deals) == expected

    check()


def _log(app: DealflowApplication, after: int) -> list[LoggedEvent]:
    notes = app.recorder.select_notifications(start=after + 1, limit=1_000_000)
    return [LoggedEvent(n.id, n.originator_id, n.originator_version, n.topic,  # type: ignore[arg-type]
                        app.mapper.to_domain_event(n)) for n in notes]


def test_batch_boundaries_do_not_change_the_tables(
        engine: Engine, runner: ProjectionRunner, request: pytest.FixtureRequest) -> None:
    @_settings(request)
    @given(scenario=scenarios(), sizes=st.lists(st.integers(1, 12), min_size=1, max_size=20))
    def check(scenario: Scenario, sizes: list[int]) -> None:
        head = int(engine.app.recorder.max_notification_id() or 0)
        ingest(engine, render(scenario, f"x{next(_examples)}-").facts)
        events = _log(engine.app, after=head)  # this example's events: its reps and deals
        whole, pieces = (CommissionsProjection(PLANS, "s"),
                         CommissionsProjection(PLANS, "m"))
        for view in (whole, pieces):
            view.metadata.drop_all(runner.engine)
            view.metadata.create_all(runner.engine)
        with runner.engine.begin() as conn:
            whole.process(conn, events)
        start, turn = 0, 0
        while start < len(events):
            size = sizes[turn % len(sizes)]
            with runner.engine.begin() as conn:  # one transaction per batch, as the runner
                pieces.process(conn, events[start:start + size])
            start, turn = start + size, turn + 1
        assert table_rows(runner, pieces) == table_rows(runner, whole)

    check()


def test_rebuild_equals_live_and_duplicates_change_nothing(engine: Engine) -> None:
    """Also on a store with several batches (batch_size 7) and a cash-basis plan."""
    live = engine.runner(["commissions"], batch_size=7)
    try:
        ingest(engine, worked_example())
        ingest(engine, render(MIXED, "m-").facts)
        live.catch_up()
        view = live.live["commissions"]
        assert isinstance(view, CommissionsProjection)
        before_rows = table_rows(live, view)
        before_report = report(live, plans=PLANS).to_json()
        result = send(engine, *worked_example())
        assert {o.status for o in result.outcomes} == {"duplicate"}
        assert report(live, plans=PLANS).to_json() == before_report
        live.rebuild()
        rebuilt = live.live["commissions"]
        assert isinstance(rebuilt, CommissionsProjection)
        assert rebuilt.generation != view.generation
        assert table_rows(live, rebuilt) == before_rows
        assert report(live, plans=PLANS).to_json() == before_report
    finally:
        live.stop()
