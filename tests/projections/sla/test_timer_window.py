"""What an SLA timer tick judges: the clocks whose ``judge_at`` the clock passed since the
last tick, and the deals that received facts or escalations; a restart continues from the
stored tick; and every tick appends exactly what a pass over every deal would. On SQLite
and PostgreSQL."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import hypothesis.strategies as st
import pytest
from eventsourcing.application import AggregateNotFoundError
from hypothesis import HealthCheck, given, settings
from sqlalchemy import delete

from engine.domain import deal_id
from engine.domain.escalation import Escalation, escalation_id
from projections.sla import SlaInstance, progress
from tests.engine.conftest import send
from tests.engine.facts import fact, opened
from tests.projections.sla.conftest import SlaHarness, without_ladder
from tests.projections.sla.scripts import BASE, Script, render, replay, scripts

BREACHED = "dealflow.sla.breached"
CORRECTED = "dealflow.sla.corrected"
REBREACHED = "dealflow.sla.rebreached"
_runs = itertools.count()
_SETTINGS = settings(max_examples=12, deadline=None, database=None,
                     suppress_health_check=[HealthCheck.too_slow,
                                            HealthCheck.function_scoped_fixture])


@pytest.fixture
def sla(make_sla: Callable[..., SlaHarness], tmp_path: Path) -> SlaHarness:
    """Workflows without escalation ladders: these tests count breaches and corrections
    (the ladder's steps and their due rows: test_ladder.py)."""
    return make_sla(definitions=without_ladder(tmp_path))


def at(text: str) -> datetime:
    """An aware datetime from RFC 3339 text."""
    return datetime.fromisoformat(text)


def call(subject: str, time: str) -> dict[str, object]:
    return fact("activity.logged", subject, {"kind": "call"}, time=time)


def thank_you(subject: str, time: str) -> dict[str, object]:
    return fact("activity.logged", subject, {"kind": "email", "purpose": "thank_you"}, time=time)


def stored_progress(sla: SlaHarness) -> progress.TimerProgress | None:
    with sla.engine.sql.connect() as conn:
        return progress.read(conn, "sla")


def test_a_tick_judges_only_the_deals_whose_clock_passed_or_that_changed(
        sla: SlaHarness) -> None:
    # first_contact: 9 business hours, so each is due the next working day at 10:00.
    send(sla.engine, opened("D-1", time="2026-01-05T10:00:00+08:00"),
         opened("D-2", time="2026-01-06T10:00:00+08:00"),
         opened("D-3", time="2026-01-07T10:00:00+08:00"))
    timer = sla.timer()
    assert timer.tick(at("2026-01-05T12:00:00+08:00")) == 0
    assert timer.judged_deals == 3  # the first tick judges every deal
    assert timer.tick(at("2026-01-06T09:00:00+08:00")) == 0
    assert timer.judged_deals == 0  # no deadline passed, nothing arrived
    assert timer.tick(at("2026-01-06T10:30:00+08:00")) == 1
    assert timer.judged_deals == 1  # D-1 (D-2's opening, now visible, is due tomorrow)
    assert timer.tick(at("2026-01-06T11:00:00+08:00")) == 0
    assert timer.judged_deals == 1  # D-1 again: its breach event arrived in the view
    assert timer.tick(at("2026-01-06T12:00:00+08:00")) == 0
    assert timer.judged_deals == 0
    send(sla.engine, call("D-3", "2026-01-06T11:30:00+08:00"))  # before D-3's opening
    assert timer.tick(at("2026-01-06T13:00:00+08:00")) == 0
    assert timer.judged_deals == 1  # D-3: a fact arrived
    # D-2's first contact and D-3's thank-you (the call met D-3's first contact) passed.
    assert timer.tick(at("2026-01-08T10:30:00+08:00")) == 2
    assert timer.judged_deals == 2
    assert sla.escalation_topics() == [BREACHED, BREACHED, BREACHED]
    (d2,) = [i for i in sla.instances(at("2026-01-08T10:30:00+08:00"))
             if i.deal == str(deal_id("D-2")) and i.rule == "first_contact"]
    assert d2.escalation == "breached"


def test_the_index_finds_a_deadline_exactly_one_microsecond_after_the_last_tick(
        sla: SlaHarness) -> None:
    send(sla.engine, opened("D-1", time="2026-01-05T10:00:00+08:00"))
    due = at("2026-01-06T10:00:00+08:00")
    timer = sla.timer()
    assert timer.tick(due) == 0  # exactly at the deadline: still in time
    assert timer.tick(due + timedelta(microseconds=1)) == 1
    assert timer.judged_deals == 1


def test_a_restarted_timer_continues_from_the_stored_tick(sla: SlaHarness) -> None:
    send(sla.engine, opened("D-1", time="2026-01-05T10:00:00+08:00"),
         opened("D-2", time="2026-01-07T10:00:00+08:00"))
    first = sla.timer()
    assert first.tick(at("2026-01-05T12:00:00+08:00")) == 0
    head = sla.engine.app.recorder.max_notification_id()
    assert stored_progress(sla) == progress.TimerProgress(at("2026-01-05T12:00:00+08:00"), head)
    first.stop()
    restarted = sla.timer()
    assert restarted.tick(at("2026-01-06T12:00:00+08:00")) == 1
    assert restarted.judged_deals == 1  # D-1 only: the restart did not judge everything
    assert stored_progress(sla) == progress.TimerProgress(at("2026-01-06T12:00:00+08:00"), head)
    restarted.stop()
    assert sla.timer().tick(at("2026-01-06T13:00:00+08:00")) == 0  # breach seen, not repeated
    assert sla.escalation_topics() == [BREACHED]


def test_a_late_email_long_after_the_deadline_still_records_the_correction(
        sla: SlaHarness) -> None:
    send(sla.engine, opened("D-1", time="2026-01-05T09:00:00+08:00"),
         call("D-1", "2026-01-05T10:00:00+08:00"),
         opened("D-2", time="2026-01-05T09:00:00+08:00"))
    timer = sla.timer()
    assert timer.tick(at("2026-01-06T12:00:00+08:00")) == 2  # D-1 thank-you, D-2 contact
    for day in range(7, 12):
        timer.tick(at(f"2026-01-{day:02d}T12:00:00+08:00"))
    assert timer.judged_deals == 0
    send(sla.engine, thank_you("D-1", "2026-01-05T15:00:00+08:00"))  # sent in time
    assert timer.tick(at("2026-01-12T12:00:00+08:00")) == 1
    assert timer.judged_deals == 1
    assert sla.escalation_topics() == [BREACHED, BREACHED, CORRECTED]
    instance = sla.one("D-1", "thank_you_email", at("2026-01-13T00:00:00+08:00"))
    assert (instance.outcome, instance.escalation) == ("met", "corrected")


def test_an_earlier_start_arriving_late_breaches_again(sla: SlaHarness) -> None:
    send(sla.engine, opened("D-1", time="2026-01-04T09:00:00+08:00"),
         call("D-1", "2026-01-05T10:00:00+08:00"))
    timer = sla.timer()
    assert timer.tick(at("2026-01-06T11:00:00+08:00")) == 1  # thank-you (the call was due)
    send(sla.engine, thank_you("D-1", "2026-01-06T09:00:00+08:00"))
    assert timer.tick(at("2026-01-08T12:00:00+08:00")) == 1  # corrected
    timer.tick(at("2026-01-09T12:00:00+08:00"))
    send(sla.engine, call("D-1", "2026-01-04T10:00:00+08:00"))  # the real first call
    assert timer.tick(at("2026-01-10T13:00:00+08:00")) == 1
    assert timer.judged_deals == 1
    assert sla.escalation_topics() == [BREACHED, CORRECTED, REBREACHED]


def test_a_new_deal_already_past_its_deadline_is_breached_at_the_next_tick(
        sla: SlaHarness) -> None:
    send(sla.engine, opened("D-1", time="2026-01-05T09:00:00+08:00"),
         call("D-1", "2026-01-05T09:30:00+08:00"))
    timer = sla.timer()
    assert timer.tick(at("2026-01-05T12:00:00+08:00")) == 0
    # Arrives late: due on 2026-01-05 18:00, before the last tick's window.
    send(sla.engine, opened("D-2", time="2026-01-02T09:00:00+08:00"))
    assert timer.tick(at("2026-01-05T12:01:00+08:00")) == 1
    assert timer.judged_deals == 1


def test_a_clock_that_started_before_the_opening_is_judged_when_the_opening_passes(
        sla: SlaHarness) -> None:
    # The call's thank-you clock is due on 2026-01-06 09:00, but the deal exists (as of a
    # time) only from 2026-01-08 10:00: a judgement as of 2026-01-07 sees no clocks.
    send(sla.engine, opened("D-1", time="2026-01-08T10:00:00+08:00"),
         call("D-1", "2026-01-05T09:00:00+08:00"))
    timer = sla.timer()
    assert timer.tick(at("2026-01-07T12:00:00+08:00")) == 0
    assert timer.tick(at("2026-01-08T09:00:00+08:00")) == 0
    assert timer.judged_deals == 0
    assert timer.tick(at("2026-01-08T10:00:00+08:00")) == 1  # thank_you_email
    assert sla.one("D-1", "thank_you_email", at("2026-01-08T10:00:00+08:00")).escalation == (
        "breached")


def test_a_clock_set_back_judges_everything_and_moves_nothing(sla: SlaHarness) -> None:
    send(sla.engine, opened("D-1", time="2026-01-05T10:00:00+08:00"),
         opened("D-2", time="2026-01-09T10:00:00+08:00"))
    timer = sla.timer()
    assert timer.tick(at("2026-01-07T00:00:00+08:00")) == 1
    before = stored_progress(sla)
    assert timer.tick(at("2026-01-06T00:00:00+08:00")) == 0
    assert timer.judged_deals == 2
    assert stored_progress(sla) == before
    assert timer.tick(at("2026-01-12T12:00:00+08:00")) == 1  # D-2, from the stored tick on
    assert timer.judged_deals == 2  # D-2 due, and D-1's breach event


# ---------------------------------------------------------------- the full-pass oracle
Key = tuple[str, str, str, str]


def _stored_status(sla: SlaHarness, i: SlaInstance) -> str | None:
    try:
        stored: Escalation = sla.engine.app.repository.get(
            escalation_id(i.deal, i.rule, i.instance))
    except AggregateNotFoundError:
        return None
    return stored.status


def full_pass(sla: SlaHarness, now: datetime) -> list[Key]:
    """What a tick at ``now`` appends if it judges every instance (the timer before the
    due-time index): breaches first, then corrections and re-breaches, in instance order;
    the store refuses a breach already recorded, and changes are decided on the stored
    escalation."""
    found = sla.instances(now)
    events: list[Key] = []
    for i in found:
        if i.outcome == "breached" and i.escalation is None and (
                _stored_status(sla, i) is None):
            events.append((BREACHED, i.deal, i.rule, i.instance))
    for i in found:
        if i.outcome in ("met", "cancelled") and i.escalation == "breached" and (
                _stored_status(sla, i) == "breached"):
            events.append((CORRECTED, i.deal, i.rule, i.instance))
        elif i.outcome == "breached" and i.escalation == "corrected" and (
                _stored_status(sla, i) == "corrected"):
            events.append((REBREACHED, i.deal, i.rule, i.instance))
    return events


def appended_since(sla: SlaHarness, position: int) -> list[Key]:
    app = sla.engine.app
    found: list[Key] = []
    for n in app.recorder.select_notifications(start=position + 1, limit=1_000_000):
        if n.topic.startswith("dealflow.sla."):
            e = app.mapper.to_domain_event(n)
            found.append((n.topic, e.deal, e.rule, e.instance))  # type: ignore[attr-defined]
    return found


def test_every_tick_appends_what_a_pass_over_every_deal_would(
        make_sla: Callable[..., SlaHarness], tmp_path: Path) -> None:
    sla = make_sla(batch_size=4, definitions=without_ladder(tmp_path))
    timer = sla.timer()

    @_SETTINGS
    @given(deals=st.lists(scripts(), min_size=1, max_size=3), chunk=st.integers(1, 8),
           start=st.integers(0, 30 * 24 * 60),
           steps=st.lists(st.integers(0, 6 * 24 * 60), min_size=2, max_size=8),
           early=st.lists(st.tuples(st.sampled_from(["call", "email"]),
                                    st.integers(1, 4 * 24 * 60)), max_size=2),
           fresh=st.booleans())
    def check(deals: list[Script], chunk: int, start: int, steps: list[int],
              early: list[tuple[str, int]], fresh: bool) -> None:
        run = next(_runs)
        if fresh:  # a first tick (full pass) now and then; else the clock may go back
            with sla.engine.sql.begin() as conn:
                conn.execute(delete(progress.PROGRESS))
        facts = [f for n, deal in enumerate(deals)
                 for f in render(deal, f"W{run}-{n}", deal.with_late())]
        opening = BASE + timedelta(minutes=deals[0].spine[0].minute)
        facts += [fact("activity.logged", f"W{run}-0",  # timed before the opening
                       {"kind": kind, "purpose": "thank_you"} if kind == "email"
                       else {"kind": kind}, id_=f"W{run}-early-{n}",
                       time=(opening - timedelta(minutes=before)).isoformat())
                  for n, (kind, before) in enumerate(early)]
        for now in replay(lambda batch: send(sla.engine, *batch), facts, chunk, start, steps):
            expected = full_pass(sla, now)
            head = int(sla.engine.app.recorder.max_notification_id() or 0)
            assert timer.tick(now) == len(expected)
            assert appended_since(sla, head) == expected

    check()
