"""The SLA timer: breaches recorded once (restarts, two timers), corrections for late facts,
and the escalations replayed into the view; on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from engine.domain import deal_id
from engine.domain.escalation import Escalation, escalation_id
from tests.engine.conftest import send
from tests.engine.facts import fact, opened
from tests.projections.sla.conftest import SlaHarness

BREACHED = "dealflow.sla.breached"
CORRECTED = "dealflow.sla.corrected"


def at(text: str) -> datetime:
    """An aware datetime from RFC 3339 text."""
    return datetime.fromisoformat(text)


def call(subject: str, time: str) -> dict[str, object]:
    return fact("activity.logged", subject, {"kind": "call", "purpose": "first_call"}, time=time)


def thank_you(subject: str, time: str) -> dict[str, object]:
    return fact("activity.logged", subject, {"kind": "email", "purpose": "thank_you"}, time=time)


def test_a_breach_is_recorded_once_across_restarts(sla: SlaHarness) -> None:
    send(sla.engine, opened("D-1", time="2026-01-05T10:00:00+08:00"))
    due = at("2026-01-06T10:00:00+08:00")
    first = sla.timer()
    assert first.tick(due) == 0  # exactly at the deadline: still in time
    # The breach and the ladder's first step (the owner, at the deadline).
    assert first.tick(at("2026-01-06T10:00:00.000001+08:00")) == 2
    assert first.tick(at("2026-01-06T11:00:00+08:00")) == 0
    first.stop()
    restarted = sla.timer()
    # Only the manager's step (9 business hours after the deadline) is new.
    assert restarted.tick(at("2026-01-07T11:00:00+08:00")) == 1
    assert sla.escalation_topics() == [BREACHED]
    stored: Escalation = sla.engine.app.repository.get(
        escalation_id(str(deal_id("D-1")), "first_contact", "crm-web/" + _opened_id(sla)))
    assert (stored.status, stored.breached_at) == ("breached",
                                                   at("2026-01-06T10:00:00.000001+08:00"))
    instance = sla.one("D-1", "first_contact", at("2026-01-08T00:00:00+08:00"))
    assert (instance.escalation, instance.escalated_at) == (
        "breached", at("2026-01-06T10:00:00.000001+08:00"))


def _opened_id(sla: SlaHarness) -> str:
    notification = sla.engine.app.recorder.select_notifications(start=1, limit=1)[0]
    event = sla.engine.app.mapper.to_domain_event(notification)
    fact_id: str = event.fact_id  # type: ignore[attr-defined]
    return fact_id


def test_two_timers_record_a_breach_once(sla: SlaHarness) -> None:
    send(sla.engine, opened("D-1", time="2026-01-05T10:00:00+08:00"),
         opened("D-2", time="2026-01-05T10:00:00+08:00"))
    now = at("2026-01-07T00:00:00+08:00")
    one, other = sla.timer(), sla.timer()
    assert one.tick(now) == 4  # per deal: the breach and the owner's step
    assert other.tick(now) == 0  # standby: the lock is held
    # Even without the lock, and with a view that has not seen the escalations yet, the
    # store refuses the second recording of the same breach.
    assert other.escalate(now) == 0
    assert sla.escalation_topics() == [BREACHED, BREACHED]
    one.stop()
    assert other.tick(now) == 0  # took over; everything already recorded


def test_breaches_recorded_meanwhile_by_another_timer_are_skipped(sla: SlaHarness) -> None:
    send(sla.engine, opened("D-1", time="2026-01-05T10:00:00+08:00"),
         opened("D-2", time="2026-01-05T10:00:00+08:00"))
    now = at("2026-01-07T00:00:00+08:00")
    d1 = sla.one("D-1", "first_contact", now)  # the view is now at the log's head
    sla.engine.app.save(Escalation.breach(  # as another timer would, unseen by the view
        deal=d1.deal, workflow=d1.workflow, workflow_version=d1.workflow_version,
        rule=d1.rule, instance=d1.instance, started_at=d1.started_at, due_at=d1.due_at,
        occurred_at=now))
    assert sla.timer().escalate(now) == 2  # D-2's breach and owner step
    assert sla.escalation_topics() == [BREACHED, BREACHED]
    assert {i.escalation for i in sla.instances(now)} == {"breached"}


def test_a_late_thank_you_email_records_a_correction(sla: SlaHarness) -> None:
    send(sla.engine, opened("D-1", time="2026-01-05T09:00:00+08:00"),
         call("D-1", "2026-01-05T10:00:00+08:00"),
         fact("deal.stage_changed", "D-1", {"to": "contact"}, time="2026-01-05T10:05:00+08:00"))
    timer = sla.timer()
    now = at("2026-01-06T12:00:00+08:00")
    assert timer.tick(now) == 2  # thank_you_email breached at 2026-01-06 10:00, owner step
    breach_known = datetime.now(UTC)
    send(sla.engine, thank_you("D-1", "2026-01-05T15:00:00+08:00"))  # sent in time, late
    later = at("2026-01-06T13:00:00+08:00")
    assert timer.tick(later) == 2  # the breach and the step corrected
    assert timer.tick(later) == 0
    assert sla.escalation_topics() == [BREACHED, CORRECTED]
    instance = sla.one("D-1", "thank_you_email", later)
    assert (instance.outcome, instance.escalation, instance.escalated_at,
            instance.corrected_at) == ("met", "corrected", now, later)
    as_known = sla.one("D-1", "thank_you_email", later, known_at=breach_known)
    assert (as_known.outcome, as_known.escalation) == ("breached", "breached")


def test_a_late_lost_before_the_deadline_corrects_to_cancelled(sla: SlaHarness) -> None:
    send(sla.engine, opened("D-1", time="2026-01-05T09:00:00+08:00"))
    timer = sla.timer()
    # Due 2026-01-05 18:00, the manager's step 2026-01-06 18:00: breach and both steps.
    assert timer.tick(at("2026-01-07T00:00:00+08:00")) == 3
    send(sla.engine, fact("deal.lost", "D-1", {"reason": "duplicate lead"},
                          time="2026-01-05T12:00:00+08:00"))
    assert timer.tick(at("2026-01-07T00:01:00+08:00")) == 3
    stored = list(sla.engine.app.events.get(
        escalation_id(str(deal_id("D-1")), "first_contact",
                      sla.one("D-1", "first_contact", at("2026-01-08T00:00:00+08:00")).instance)))
    (corrected,) = [e for e in stored if isinstance(e, Escalation.Corrected)]
    assert (corrected.outcome, corrected.ended_at) == ("cancelled",
                                                       at("2026-01-05T12:00:00+08:00"))
    undone = [e for e in stored if isinstance(e, Escalation.StepCorrected)]
    assert sorted((e.step, e.reason) for e in undone) == [("manager+9h", "lost"),
                                                          ("owner+0h", "lost")]


def test_an_earlier_start_arriving_after_a_correction_breaches_again(sla: SlaHarness) -> None:
    send(sla.engine, opened("D-1", time="2026-01-04T09:00:00+08:00"),
         call("D-1", "2026-01-05T10:00:00+08:00"))
    timer = sla.timer()
    assert timer.tick(at("2026-01-06T11:00:00+08:00")) == 2  # with the owner's step
    send(sla.engine, thank_you("D-1", "2026-01-06T09:00:00+08:00"))
    assert timer.tick(at("2026-01-06T12:00:00+08:00")) == 2  # both corrected
    send(sla.engine, call("D-1", "2026-01-04T10:00:00+08:00"))  # the real first call
    assert timer.tick(at("2026-01-06T13:00:00+08:00")) == 1
    assert sla.escalation_topics() == [BREACHED, CORRECTED, "dealflow.sla.rebreached"]
    instance = sla.one("D-1", "thank_you_email", at("2026-01-07T00:00:00+08:00"))
    assert (instance.started_at, instance.outcome, instance.escalation) == (
        at("2026-01-04T10:00:00+08:00"), "breached", "breached")


def test_rebuild_replays_the_escalations(sla: SlaHarness) -> None:
    send(sla.engine, opened("D-1", time="2026-01-05T09:00:00+08:00"),
         call("D-1", "2026-01-05T10:00:00+08:00"))
    timer = sla.timer()
    timer.tick(at("2026-01-07T00:00:00+08:00"))
    send(sla.engine, thank_you("D-1", "2026-01-05T11:00:00+08:00"))
    timer.tick(at("2026-01-07T00:01:00+08:00"))
    sla.runner.catch_up()
    live = sla.dump()
    assert len(live["escalations"]) == 2
    as_of = at("2026-01-08T00:00:00+08:00")
    before = sla.instances(as_of)
    timer.stop()
    sla.runner.rebuild()
    assert sla.dump() == live
    assert sla.instances(as_of) == before


def test_loop_ticks_on_its_clock_until_stopped(sla: SlaHarness) -> None:
    send(sla.engine, opened("D-1", time="2026-01-05T09:00:00+08:00"))
    ticks: list[datetime] = []

    def clock() -> datetime:
        ticks.append(at("2026-01-07T00:00:00+08:00"))
        if len(ticks) == 3:
            timer.follower.request_stop()
        return ticks[-1]

    timer = sla.timer(clock=clock, interval=0.01)
    timer.follower.follow()
    timer.stop()
    assert len(ticks) == 3
    assert sla.escalation_topics() == [BREACHED]
    assert not timer.lock.held
    with pytest.raises(ValueError, match="aware"):
        timer.tick(datetime(2026, 1, 7))
