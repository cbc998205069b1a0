"""The SLA view's due times (one row per clock, indexed by ``judge_at``), on SQLite and
PostgreSQL: the earliest start wins, rows equal evaluation as of the end of time, a view
whose tables predate them is filled once, a rebuild gives the same rows."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import hypothesis.strategies as st
from hypothesis import HealthCheck, given, settings
from sqlalchemy import delete, select

from engine.domain import deal_id
from projections.report import ReportParams
from projections.sla import SlaProjection, evaluate_deal, histories
from projections.sla.clocks import judge_at
from tests.engine.conftest import send
from tests.engine.facts import fact, opened
from tests.projections.sla.conftest import SlaHarness
from tests.projections.sla.scripts import Script, render, scripts
from workflows import WorkflowRegistry

END_OF_TIME = datetime(9000, 1, 1, tzinfo=UTC)
US = timedelta(microseconds=1)
_runs = itertools.count()
_SETTINGS = settings(max_examples=10, deadline=None, database=None,
                     suppress_health_check=[HealthCheck.too_slow,
                                            HealthCheck.function_scoped_fixture])


def at(text: str) -> datetime:
    """An aware datetime from RFC 3339 text."""
    return datetime.fromisoformat(text)


def call(subject: str, time: str) -> dict[str, object]:
    return fact("activity.logged", subject, {"kind": "call"}, time=time)


def due_rows(sla: SlaHarness, subject: str | None = None) -> dict[tuple[str, str, str],
                                                                    tuple[datetime, ...]]:
    """(deal, rule, instance) -> (started_at, due_at, judge_at) of the deadlines' rows
    (escalation steps have rows of their own, tested apart) from the live view."""
    sla.runner.catch_up()
    due = sla.view.due
    query = select(due).where(due.c.step == "")
    if subject is not None:
        query = query.where(due.c.deal == str(deal_id(subject)))
    with sla.engine.sql.connect() as conn:
        return {(r.deal, r.rule, r.instance): (r.started_at, r.due_at, r.judge_at)
                for r in conn.execute(query)}


def test_an_earlier_first_start_replaces_the_row(sla: SlaHarness) -> None:
    send(sla.engine, opened("D-1", time="2026-01-05T09:00:00+08:00"),
         call("D-1", "2026-01-06T10:00:00+08:00"))
    deal = str(deal_id("D-1"))
    rows = due_rows(sla, "D-1")
    assert rows[(deal, "thank_you_email", "first")] == (
        at("2026-01-06T10:00:00+08:00"), at("2026-01-07T10:00:00+08:00"),
        at("2026-01-07T10:00:00+08:00") + US)
    (contact,) = [v for k, v in rows.items() if k[1] == "first_contact"]
    assert contact[1] == at("2026-01-05T18:00:00+08:00")  # one per opening, by its id
    send(sla.engine, call("D-1", "2026-01-05T15:00:00+08:00"))  # the real first call
    send(sla.engine, call("D-1", "2026-01-05T16:00:00+08:00"))  # later: changes nothing
    assert due_rows(sla, "D-1")[(deal, "thank_you_email", "first")] == (
        at("2026-01-05T15:00:00+08:00"), at("2026-01-06T15:00:00+08:00"),
        at("2026-01-06T15:00:00+08:00") + US)


def test_a_clock_is_judged_from_the_opening_when_it_started_earlier(sla: SlaHarness) -> None:
    # A call logged three days before the opening: its thank-you clock was due before the
    # deal existed, so the passing of time can breach it only from the opening on.
    send(sla.engine, opened("D-1", time="2026-01-08T10:00:00+08:00"),
         call("D-1", "2026-01-05T09:00:00+08:00"))
    started, due, judge = due_rows(sla, "D-1")[(str(deal_id("D-1")), "thank_you_email",
                                                "first")]
    assert (started, due, judge) == (at("2026-01-05T09:00:00+08:00"),
                                     at("2026-01-06T09:00:00+08:00"),
                                     at("2026-01-08T10:00:00+08:00"))
    assert judge_at(due, at("2026-01-05T09:00:00+08:00")) == due + US


def test_clocks_started_at_one_instant_are_judged_from_each_deal_s_own_opening(
        sla: SlaHarness) -> None:
    # Two thank-you clocks started by calls at the same instant (the view reuses the due
    # times of a rule and start): the deal opened before the deadline is judged after it,
    # the one opened after the deadline from its opening, in either order in one batch.
    send(sla.engine, opened("D-1", time="2026-01-05T08:00:00+08:00"),
         opened("D-2", time="2026-01-08T10:00:00+08:00"),
         call("D-1", "2026-01-05T09:00:00+08:00"), call("D-2", "2026-01-05T09:00:00+08:00"),
         opened("D-3", time="2026-01-04T10:00:00+08:00"),
         call("D-3", "2026-01-05T09:00:00+08:00"))
    rows = due_rows(sla)
    due = at("2026-01-06T09:00:00+08:00")
    for subject, judge in (("D-1", due + US), ("D-2", at("2026-01-08T10:00:00+08:00")),
                           ("D-3", due + US)):
        assert rows[(str(deal_id(subject)), "thank_you_email", "first")] == (
            at("2026-01-05T09:00:00+08:00"), due, judge), subject


def test_dwell_clocks_have_one_row_per_entry(sla: SlaHarness) -> None:
    path = [("activity.logged", {"kind": "call"}), ("deal.stage_changed", {"to": "contact"}),
            ("deal.customer_info_captured", {"contact_name": "Li Lei"}),
            ("deal.stage_changed", {"to": "needs_analysis"}),
            ("deal.needs_recorded", {"summary": "20 seats"}),
            ("deal.stage_changed", {"to": "proposal"})]
    send(sla.engine, opened("D-1", time="2026-01-05T09:00:00+08:00"),
         *[fact(t, "D-1", d, time=f"2026-01-05T1{n}:00:00+08:00") for n, (t, d)
           in enumerate(path)],
         fact("deal.lost", "D-1", {"reason": "budget"}, time="2026-01-06T10:00:00+08:00"),
         fact("deal.reopened", "D-1", {}, time="2026-01-07T10:00:00+08:00"))
    dwell = sorted(v[:2] for k, v in due_rows(sla, "D-1").items() if k[1] == "proposal_dwell")
    assert dwell == [(at("2026-01-05T15:00:00+08:00"), at("2026-01-19T15:00:00+08:00")),
                     (at("2026-01-07T10:00:00+08:00"), at("2026-01-21T10:00:00+08:00"))]


def _expected(sla: SlaHarness) -> dict[tuple[str, str, str], tuple[datetime, ...]]:
    """Every clock as evaluation sees it as of the end of time, with its ``judge_at``."""
    view = sla.view
    found: dict[tuple[str, str, str], tuple[datetime, ...]] = {}
    with sla.engine.sql.connect() as conn:
        for history in histories(conn, view):
            workflow = view.workflows.get(history.workflow, history.workflow_version)
            opened_at = min(f.occurred_at for f in history.facts
                            if f.fact_type == "deal.opened")
            for i in evaluate_deal(history, workflow, ReportParams(as_of=END_OF_TIME)):
                found[(i.deal, i.rule, i.instance)] = (i.started_at, i.due_at,
                                                       judge_at(i.due_at, opened_at))
    return found


def test_rows_equal_evaluation_at_the_end_of_time_for_any_batches(
        make_sla: Callable[..., SlaHarness]) -> None:
    sla = make_sla(batch_size=2)

    @_SETTINGS
    @given(deals=st.lists(scripts(), min_size=1, max_size=3), batch=st.integers(1, 5),
           chunk=st.integers(1, 7))
    def check(deals: list[Script], batch: int, chunk: int) -> None:
        run = next(_runs)
        facts = [f for n, deal in enumerate(deals)
                 for f in render(deal, f"E{run}-{n}", deal.with_late())]
        sla.runner.batch_size = batch
        for start in range(0, len(facts), chunk):
            send(sla.engine, *facts[start:start + chunk])
            sla.runner.run_once()
        assert due_rows(sla) == _expected(sla)

    check()


def test_a_rebuild_gives_the_same_due_rows(make_sla: Callable[..., SlaHarness]) -> None:
    sla = make_sla(batch_size=1)
    send(sla.engine, opened("D-1", time="2026-01-05T09:00:00+08:00"),
         call("D-1", "2026-01-06T10:00:00+08:00"),
         opened("D-2", workflow="channel", time="2026-01-05T09:00:00+08:00"),
         call("D-1", "2026-01-05T15:00:00+08:00"))
    sla.runner.catch_up()
    live = sla.dump()
    # Deadlines 4, escalation steps 5 (first_contact owner and manager on both deals,
    # thank_you_email owner on D-1).
    assert len(live["due"]) == 9 and live["meta"] == [("due_times", 2)]
    sla.runner.batch_size = 1000
    sla.runner.rebuild()
    assert sla.dump() == live


def test_tables_that_predate_the_due_times_are_filled_by_the_next_batch(
        make_sla: Callable[..., SlaHarness]) -> None:
    sla = make_sla()
    send(sla.engine, opened("D-1", time="2026-01-05T09:00:00+08:00"),
         call("D-1", "2026-01-05T10:00:00+08:00"),
         opened("D-2", time="2026-01-05T09:00:00+08:00"))
    sla.runner.catch_up()
    before = sla.dump()
    view = sla.view
    with sla.engine.sql.begin() as conn:  # as the view's tables were before the due times
        conn.execute(delete(view.due))
        conn.execute(delete(view.meta))
    timer = sla.timer()
    assert timer.tick(at("2026-01-05T12:00:00+08:00")) == 0
    assert timer.judged_deals == 2  # every deal: the due table cannot be trusted yet
    assert timer.tick(at("2026-01-05T12:01:00+08:00")) == 0
    assert timer.judged_deals == 2

    # A new process: a fresh view instance, whose first batch fills the due table.
    sla.runner.stop()
    restarted = sla.engine.runner_of([SlaProjection(sla.engine.workflows)])
    sla.runners.append(restarted)
    send(sla.engine, opened("D-3", time="2026-01-05T09:00:00+08:00"))
    restarted.catch_up()
    after = sla.dump(restarted)
    d3 = str(deal_id("D-3"))
    assert after["meta"] == before["meta"]
    assert [r for r in after["due"] if r[0] != d3] == before["due"]
    assert [(r[1], r[3]) for r in after["due"] if r[0] == d3] == [
        ("first_contact", ""), ("first_contact", "manager+9h"), ("first_contact", "owner+0h")]
    assert timer.tick(at("2026-01-05T12:02:00+08:00")) == 0
    assert timer.judged_deals == 1  # D-3, new since the last tick


def test_the_view_declares_the_index_the_timer_uses() -> None:
    view = SlaProjection(WorkflowRegistry.shipped())
    (index,) = [i for i in view.due.indexes]
    assert [c.name for c in index.columns] == ["judge_at"]
