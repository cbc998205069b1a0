"""The escalation ladder (CONTRACT 1.1, precise rule 5): each step recorded once at its
instant (business-hour offsets), to the owner at the instant or that owner's manager by the
profile in force at the deadline (no_owner, no_manager), corrected by late facts; the view
keeps the steps and rebuilds to the same rows. On SQLite and PostgreSQL."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import hypothesis.strategies as st
from hypothesis import HealthCheck, given, settings
from sqlalchemy import delete, select

from engine.domain import deal_id
from projections.sla import progress
from tests.engine.conftest import send
from tests.engine.facts import fact, opened
from tests.projections.sla.conftest import SlaHarness
from tests.projections.sla.scripts import BASE, Script, render, scripts


def at(text: str) -> datetime:
    """An aware datetime from RFC 3339 text."""
    return datetime.fromisoformat(text)


def meeting(subject: str, time: str) -> dict[str, object]:
    """An activity that meets first_contact and starts no thank-you clock."""
    return fact("activity.logged", subject, {"kind": "meeting"}, time=time)


def profile(rep: str, time: str, manager: str | None = None, **data: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"team": "east", **data}
    if manager is not None:
        body["manager"] = manager
    return fact("rep.profile_set", rep, body, time=time)


def steps(sla: SlaHarness) -> list[tuple[str, str, str, str | None, datetime]]:
    """(rule, step, status, recipient, instant) of every recorded step, in log order."""
    return [(e.rule, e.step, e.status, e.recipient, e.occurred_at)
            for e in sla.step_events() if type(e).__name__ == "StepRecorded"]


def test_owner_then_manager_each_once_at_business_hour_instants(sla: SlaHarness) -> None:
    send(sla.engine, profile("rep-01", "2026-01-01T09:00:00+08:00", manager="boss-1"),
         opened("D-1", time="2026-01-05T10:00:00+08:00"))
    due = at("2026-01-06T10:00:00+08:00")  # 9 business hours after Monday 10:00
    manager_at = at("2026-01-07T10:00:00+08:00")  # 9 business hours after the deadline
    timer = sla.timer()
    assert timer.tick(due) == 0
    assert timer.tick(at("2026-01-06T10:00:00.000001+08:00")) == 2  # breach, owner step
    assert timer.tick(manager_at) == 0  # exactly at the step's instant: not yet
    timer.stop()
    restarted = sla.timer()
    assert restarted.tick(at("2026-01-07T10:00:00.000001+08:00")) == 1
    assert restarted.tick(at("2026-01-09T10:00:00+08:00")) == 0
    assert steps(sla) == [("first_contact", "owner+0h", "notify", "rep-01", due),
                          ("first_contact", "manager+9h", "notify", "boss-1", manager_at)]
    # The event carries the step's instant (its business time), not the tick's clock.
    recorded = sla.step_events()
    assert [e.owner for e in recorded] == ["rep-01", "rep-01"]
    assert [e.deal_subject for e in recorded] == ["D-1", "D-1"]
    instance = sla.one("D-1", "first_contact", at("2026-01-09T00:00:00+08:00"))
    assert [(s.step, s.status, s.outcome, s.recipient, s.at) for s in instance.steps] == [
        ("owner+0h", "recorded", "notify", "rep-01", due),
        ("manager+9h", "recorded", "notify", "boss-1", manager_at)]


def test_two_timers_record_each_step_once(sla: SlaHarness) -> None:
    send(sla.engine, opened("D-1", time="2026-01-05T10:00:00+08:00"))
    one, other = sla.timer(), sla.timer()
    first = at("2026-01-06T12:00:00+08:00")
    assert one.tick(first) == 2  # breach and owner step
    # Without the lock and with a view that has not seen them: the store refuses both.
    assert other.escalate(first) == 0
    sla.runner.catch_up()
    later = at("2026-01-07T12:00:00+08:00")
    assert one.escalate(later) == 1  # the manager's step
    assert other.escalate(later) == 0  # decided on the stored aggregate: already there
    sla.runner.catch_up()
    assert other.escalate(later) == 0
    assert [s[1] for s in steps(sla)] == ["owner+0h", "manager+9h"]


def test_a_deadline_at_closing_time_steps_to_the_next_working_days_close(
        sla: SlaHarness) -> None:
    # Opened Friday 09:00: due Friday 18:00; + 9 business hours = Monday 18:00.
    send(sla.engine, opened("D-1", time="2026-01-09T09:00:00+08:00"))
    timer = sla.timer()
    assert timer.tick(at("2026-01-12T17:59:59+08:00")) == 2  # breach and owner step only
    assert timer.tick(at("2026-01-12T18:00:00.000001+08:00")) == 1
    assert [s[4] for s in steps(sla)] == [at("2026-01-09T18:00:00+08:00"),
                                          at("2026-01-12T18:00:00+08:00")]


def test_no_owner_and_no_manager(sla: SlaHarness) -> None:
    # No profile at all: the deal opens unassigned (no rule can choose anyone).
    send(sla.engine, opened("D-1", owner=None, time="2026-01-05T10:00:00+08:00"))
    timer = sla.timer()
    timer.tick(at("2026-01-08T00:00:00+08:00"))
    assert [(s[1], s[2], s[3]) for s in steps(sla)] == [("owner+0h", "no_owner", None),
                                                         ("manager+9h", "no_manager", None)]


def test_the_manager_comes_from_the_profile_in_force_at_the_deadline(
        sla: SlaHarness) -> None:
    send(sla.engine,
         profile("rep-01", "2026-01-01T09:00:00+08:00", manager="boss-old"),
         profile("rep-01", "2026-01-06T12:00:00+08:00", manager="boss-new"),  # after it
         profile("rep-02", "2026-01-01T09:00:00+08:00"),  # a profile without a manager
         opened("D-1", time="2026-01-05T10:00:00+08:00"),
         opened("D-2", owner="rep-02", time="2026-01-05T10:00:00+08:00"),
         opened("D-3", owner="rep-03", time="2026-01-05T10:00:00+08:00"))  # no profile
    sla.timer().tick(at("2026-01-08T00:00:00+08:00"))
    managers = {e.deal_subject: (e.status, e.recipient) for e in sla.step_events()
                if e.step == "manager+9h"}
    assert managers == {"D-1": ("notify", "boss-old"), "D-2": ("no_manager", None),
                        "D-3": ("no_manager", None)}


def test_the_owner_at_the_steps_instant(sla: SlaHarness) -> None:
    send(sla.engine, profile("rep-02", "2026-01-01T09:00:00+08:00", manager="boss-2"),
         opened("D-1", time="2026-01-05T10:00:00+08:00"),
         # Reassigned after the deadline, before the manager's step.
         fact("deal.reassigned", "D-1", {"owner": "rep-02"}, time="2026-01-06T15:00:00+08:00"))
    sla.timer().tick(at("2026-01-08T00:00:00+08:00"))
    assert [(s[1], s[3]) for s in steps(sla)] == [("owner+0h", "rep-01"),
                                                   ("manager+9h", "boss-2")]


def test_an_end_between_deadline_and_step_stops_the_later_step(sla: SlaHarness) -> None:
    send(sla.engine, opened("D-1", time="2026-01-05T10:00:00+08:00"),
         meeting("D-1", "2026-01-06T15:00:00+08:00"))  # late, before the manager's step
    sla.timer().tick(at("2026-01-08T00:00:00+08:00"))
    assert [(s[0], s[1]) for s in steps(sla)] == [("first_contact", "owner+0h")]


def test_late_facts_correct_recorded_steps(sla: SlaHarness) -> None:
    send(sla.engine, opened("D-1", time="2026-01-05T10:00:00+08:00"),
         opened("D-2", time="2026-01-05T10:00:00+08:00"))
    timer = sla.timer()
    assert timer.tick(at("2026-01-08T00:00:00+08:00")) == 6  # per deal: breach, 2 steps
    # D-1: the first meeting happened after the deadline but before the manager's step;
    # D-2: lost before the deadline.
    send(sla.engine, meeting("D-1", "2026-01-06T15:00:00+08:00"),
         fact("deal.lost", "D-2", {"reason": "duplicate"}, time="2026-01-05T11:00:00+08:00"))
    now = at("2026-01-08T01:00:00+08:00")
    # D-1: its manager step corrected (still breached: the meeting came late); D-2: the breach
    # corrected (cancelled in time) and both steps.
    assert timer.tick(now) == 4
    corrected = {(e.deal_subject, e.step): (e.reason, e.ended_at, e.step_at, e.occurred_at)
                 for e in sla.step_events() if type(e).__name__ == "StepCorrected"}
    assert corrected == {
        ("D-1", "manager+9h"): ("ended", at("2026-01-06T15:00:00+08:00"),
                                at("2026-01-07T10:00:00+08:00"), now),
        ("D-2", "owner+0h"): ("lost", at("2026-01-05T11:00:00+08:00"),
                              at("2026-01-06T10:00:00+08:00"), now),
        ("D-2", "manager+9h"): ("lost", at("2026-01-05T11:00:00+08:00"),
                                at("2026-01-07T10:00:00+08:00"), now),
    }
    assert timer.tick(at("2026-01-08T02:00:00+08:00")) == 0  # each correction once
    d1 = sla.one("D-1", "first_contact", at("2026-01-09T00:00:00+08:00"))
    assert [(s.step, s.status, s.reason) for s in d1.steps] == [
        ("owner+0h", "recorded", None), ("manager+9h", "corrected", "ended")]


def test_rebuild_replays_steps_profiles_and_owners(sla: SlaHarness) -> None:
    send(sla.engine, profile("rep-01", "2026-01-01T09:00:00+08:00", manager="boss-1"),
         opened("D-1", time="2026-01-05T10:00:00+08:00"),
         fact("deal.reassigned", "D-1", {"owner": "rep-02"}, time="2026-01-06T15:00:00+08:00"))
    timer = sla.timer()
    timer.tick(at("2026-01-08T00:00:00+08:00"))
    send(sla.engine, meeting("D-1", "2026-01-06T09:00:00+08:00"))
    timer.tick(at("2026-01-08T01:00:00+08:00"))
    sla.runner.catch_up()
    live = sla.dump()
    assert len(live["steps"]) == 4 and len(live["profiles"]) == 1  # 2 recorded, 2 corrected
    timer.stop()
    sla.runner.rebuild()
    assert sla.dump() == live
    with sla.engine.sql.connect() as conn:
        owners = conn.execute(select(sla.view.facts.c.fact_type, sla.view.facts.c.owner).where(
            sla.view.facts.c.deal == str(deal_id("D-1")),
            sla.view.facts.c.owner.is_not(None))).all()
    assert sorted(tuple(r) for r in owners) == [("deal.opened", "rep-01"),
                                                 ("deal.reassigned", "rep-02")]


_runs = itertools.count()
_SETTINGS = settings(max_examples=10, deadline=None, database=None,
                     suppress_health_check=[HealthCheck.too_slow,
                                            HealthCheck.function_scoped_fixture])


def test_windowed_ticks_miss_no_step_a_full_pass_would_record(
        make_sla: Callable[..., SlaHarness]) -> None:
    """After every tick (due-time index, facts arriving late, clocks jumping), a pass over
    every deal at the same clock records nothing more: no step is missed or doubled."""
    sla = make_sla(batch_size=3)
    timer = sla.timer()
    seen: list[int] = []

    @_SETTINGS
    @given(deals=st.lists(scripts(), min_size=1, max_size=3), chunk=st.integers(1, 8),
           steps=st.lists(st.integers(0, 3 * 24 * 60), min_size=2, max_size=6))
    def check(deals: list[Script], chunk: int, steps: list[int]) -> None:
        run = next(_runs)
        facts = [f for n, deal in enumerate(deals)
                 for f in render(deal, f"L{run}-{n}", deal.with_late())]
        sends = [facts[i:i + chunk] for i in range(0, len(facts), chunk)]
        minute = 0
        for step, batch in itertools.zip_longest(steps, sends):
            if batch:
                send(sla.engine, *batch)
            minute += step or 0
            now = BASE + timedelta(minutes=minute)
            timer.tick(now)
            with sla.engine.sql.begin() as conn:  # the next tick judges every deal
                conn.execute(delete(progress.PROGRESS))
            assert timer.tick(now) == 0
        recorded = [(e.deal, e.rule, e.instance, e.step) for e in sla.step_events()
                    if type(e).__name__ == "StepRecorded"]
        assert len(recorded) == len(set(recorded))
        seen.append(len(recorded))

    check()
    assert sum(seen) > 0  # the examples did reach steps
