"""SLA evaluation as a pure function: deadlines, outcomes, "first", dwell, as-of/known-at."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pytest

from projections.report import ReportParams
from projections.sla import DealHistory, SlaFact, SlaInstance, due_at, evaluate_deal
from workflows import BusinessCalendar, CompiledWorkflow, WorkflowRegistry

REGISTRY = WorkflowRegistry.shipped()
STANDARD = REGISTRY.get("standard", 1)
CHANNEL = REGISTRY.get("channel", 1)
US = timedelta(microseconds=1)


def at(text: str) -> datetime:
    """An aware datetime from RFC 3339 text."""
    return datetime.fromisoformat(text)


def rule(wf: CompiledWorkflow, name: str) -> Any:
    return next(r for r in wf.sla_rules if r.name == name)


class Facts:
    """Builds one deal's facts in arrival order (positions 1, 2, ...)."""

    def __init__(self) -> None:
        self.facts: list[SlaFact] = []

    def add(self, fact_type: str, time: str, recorded: str | None = None,
            **fields: Any) -> Facts:
        position = len(self.facts) + 1
        self.facts.append(SlaFact(
            position=position, fact_type=fact_type, source="test", fact_id=f"f{position}",
            occurred_at=at(time), recorded_at=at(recorded or time),
            **fields))
        return self

    def opened(self, time: str, stage: str = "lead") -> Facts:
        return self.add("deal.opened", time, to_stage=stage, owner="rep-01")

    def activity(self, time: str, kind: str, purpose: str | None = None, **kw: Any) -> Facts:
        return self.add("activity.logged", time, kind=kind, purpose=purpose, **kw)

    def move(self, time: str, from_stage: str, to_stage: str,
             fact_type: str = "deal.stage_changed") -> Facts:
        return self.add(fact_type, time, from_stage=from_stage, to_stage=to_stage)

    def evaluate(self, as_of: str, known_at: str | None = None,
                 wf: CompiledWorkflow = STANDARD) -> list[SlaInstance]:
        history = DealHistory("deal-1", wf.name, wf.version, "acct", tuple(self.facts))
        params = ReportParams(at(as_of), None if known_at is None else at(known_at))
        return evaluate_deal(history, wf, params)

    def of(self, name: str, as_of: str, **kw: Any) -> list[SlaInstance]:
        return [i for i in self.evaluate(as_of, **kw) if i.rule == name]

    def one(self, name: str, as_of: str, **kw: Any) -> SlaInstance:
        found = self.of(name, as_of, **kw)
        assert len(found) == 1, found
        return found[0]


# --------------------------------------------------------------------------- deadlines
@pytest.mark.parametrize(("start", "due"), [
    ("2026-01-09T17:00:00+08:00", "2026-01-12T17:00:00+08:00"),  # Friday 17:00 -> Monday 17:00
    ("2026-01-10T10:00:00+08:00", "2026-01-12T18:00:00+08:00"),  # Saturday -> Monday 18:00
    ("2026-01-09T09:00:00+00:00", "2026-01-12T17:00:00+08:00"),  # the same Friday, in UTC
    ("2026-01-09T04:00:00-05:00", "2026-01-12T17:00:00+08:00"),  # ... and in New York
    ("2026-01-12T08:00:00+08:00", "2026-01-12T18:00:00+08:00"),  # before opening hours
    ("2026-01-12T09:00:00+08:00", "2026-01-12T18:00:00+08:00"),
])
def test_one_business_day(start: str, due: str) -> None:
    assert due_at(rule(STANDARD, "first_contact"), STANDARD.calendar, at(start)) == at(due)


def test_business_deadline_skips_a_configured_holiday() -> None:
    calendar = BusinessCalendar(holidays=frozenset({date(2026, 1, 12)}))
    start = at("2026-01-09T17:00:00+08:00")  # Friday; Monday is a holiday
    assert due_at(rule(STANDARD, "first_contact"), calendar, start) == at(
        "2026-01-13T17:00:00+08:00")
    assert due_at(rule(CHANNEL, "registration_approval"), calendar, start) == at(
        "2026-01-14T17:00:00+08:00")


def test_calendar_deadlines_are_24_hour_days() -> None:
    start = at("2026-03-07T23:30:00-05:00")
    assert due_at(rule(STANDARD, "thank_you_email"), STANDARD.calendar, start) == start + \
        timedelta(hours=24)
    assert due_at(rule(STANDARD, "proposal_dwell"), STANDARD.calendar, start) == start + \
        timedelta(days=14)


# --------------------------------------------------------------------------- outcomes
def test_met_exactly_at_the_deadline_and_breached_a_microsecond_later() -> None:
    opened = "2026-01-09T17:00:00+08:00"
    exactly = Facts().opened(opened).activity("2026-01-12T09:00:00+00:00", "call")
    late = Facts().opened(opened).activity("2026-01-12T09:00:00.000001+00:00", "call")
    assert exactly.one("first_contact", "2026-02-01T00:00:00+00:00").outcome == "met"
    instance = late.one("first_contact", "2026-02-01T00:00:00+00:00")
    assert instance.outcome == "breached"
    assert instance.ended_at == at("2026-01-12T17:00:00.000001+08:00")
    assert not instance.overdue


def test_open_until_the_clock_passes_the_deadline() -> None:
    facts = Facts().opened("2026-01-09T17:00:00+08:00")
    assert facts.one("first_contact", "2026-01-12T17:00:00+08:00").outcome == "open"
    breached = facts.one("first_contact", "2026-01-12T17:00:00.000001+08:00")
    assert breached.outcome == "breached"
    assert breached.overdue
    assert facts.evaluate("2026-01-09T16:59:59+08:00") == []  # not opened yet as of then


def test_lost_before_the_deadline_cancels_after_it_is_a_breach() -> None:
    def lost_at(time: str) -> SlaInstance:
        facts = Facts().opened("2026-01-12T10:00:00+08:00")
        facts.add("deal.lost", time, from_stage="lead", to_stage="lost")
        return facts.one("first_contact", "2026-02-01T00:00:00+00:00")

    assert lost_at("2026-01-12T12:00:00+08:00").outcome == "cancelled"
    assert lost_at("2026-01-13T10:00:00+08:00").outcome == "cancelled"  # exactly at deadline
    after = lost_at("2026-01-13T10:00:01+08:00")
    assert (after.outcome, after.overdue) == ("breached", False)


def test_an_end_after_the_cancel_does_not_make_it_met() -> None:
    facts = (Facts().opened("2026-01-12T10:00:00+08:00")
             .add("deal.lost", "2026-01-12T11:00:00+08:00", from_stage="lead", to_stage="lost")
             .activity("2026-01-12T12:00:00+08:00", "call"))
    instance = facts.one("first_contact", "2026-02-01T00:00:00+00:00")
    assert (instance.outcome, instance.cancelled_at) == (
        "cancelled", at("2026-01-12T11:00:00+08:00"))


def test_a_clock_started_on_a_lost_deal_is_cancelled_unless_reopened_first() -> None:
    facts = (Facts().opened("2026-01-12T10:00:00+08:00")
             .activity("2026-01-12T10:30:00+08:00", "email")
             .add("deal.lost", "2026-01-12T11:00:00+08:00", from_stage="lead", to_stage="lost")
             .activity("2026-01-12T12:00:00+08:00", "call"))
    assert facts.one("thank_you_email", "2026-02-01T00:00:00+00:00").outcome == "cancelled"
    facts.move("2026-01-12T11:30:00+08:00", "lost", "lead", "deal.reopened")
    assert facts.one("thank_you_email", "2026-02-01T00:00:00+00:00").outcome == "breached"


def test_winning_cancels_nothing_and_contract_cancelled_does() -> None:
    facts = (Facts().opened("2026-01-05T10:00:00+08:00", stage="negotiation")
             .activity("2026-01-05T11:00:00+08:00", "call")
             .move("2026-01-05T12:00:00+08:00", "negotiation", "won", "contract.signed"))
    assert facts.one("thank_you_email", "2026-02-01T00:00:00+00:00").outcome == "breached"
    assert facts.one("negotiation_dwell", "2026-02-01T00:00:00+00:00").outcome == "met"
    facts.add("contract.cancelled", "2026-01-20T00:00:00+08:00")
    followup = facts.one("after_sales_followup", "2026-03-01T00:00:00+00:00")
    assert (followup.outcome, followup.cancelled_at) == (
        "cancelled", at("2026-01-20T00:00:00+08:00"))


def test_a_dwell_is_met_by_any_move_out_of_the_stage_including_lost() -> None:
    facts = (Facts().opened("2026-01-05T10:00:00+08:00", stage="needs_analysis")
             .move("2026-01-06T10:00:00+08:00", "needs_analysis", "proposal")
             .add("deal.lost", "2026-01-19T10:00:00+08:00", from_stage="proposal",
                  to_stage="lost"))
    dwell = facts.one("proposal_dwell", "2026-03-01T00:00:00+00:00")
    assert (dwell.outcome, dwell.ended_at) == ("met", at("2026-01-19T10:00:00+08:00"))


def test_each_entry_into_a_stage_is_its_own_dwell_clock() -> None:
    facts = (Facts().opened("2026-01-05T10:00:00+08:00", stage="needs_analysis")
             .move("2026-01-06T10:00:00+08:00", "needs_analysis", "proposal")
             .add("deal.lost", "2026-01-07T10:00:00+08:00", from_stage="proposal",
                  to_stage="lost")
             .move("2026-01-10T10:00:00+08:00", "lost", "proposal", "deal.reopened"))
    first, second = facts.of("proposal_dwell", "2026-03-01T00:00:00+00:00")
    assert (first.outcome, first.ended_at) == ("met", at("2026-01-07T10:00:00+08:00"))
    assert (second.started_at, second.outcome, second.overdue) == (
        at("2026-01-10T10:00:00+08:00"), "breached", True)
    assert first.instance == "test/f2" and second.instance == "test/f4"


def test_first_means_earliest_by_time_not_arrival() -> None:
    facts = (Facts().opened("2026-01-05T09:00:00+08:00")
             .activity("2026-01-06T15:00:00+08:00", "call")
             .activity("2026-01-06T12:00:00+08:00", "email", "thank_you")
             .activity("2026-01-05T10:00:00+08:00", "call"))  # the first call, arrived last
    instance = facts.one("thank_you_email", "2026-02-01T00:00:00+00:00")
    assert (instance.instance, instance.started_at, instance.outcome) == (
        "first", at("2026-01-05T10:00:00+08:00"), "breached")
    assert instance.ended_at == at("2026-01-06T12:00:00+08:00")


def test_a_thank_you_before_the_call_does_not_count() -> None:
    facts = (Facts().opened("2026-01-05T09:00:00+08:00")
             .activity("2026-01-05T09:30:00+08:00", "email", "thank_you")
             .activity("2026-01-05T10:00:00+08:00", "call"))
    assert facts.one("thank_you_email", "2026-01-06T10:00:00+08:00").outcome == "open"


def test_as_of_counts_facts_by_time_and_known_at_by_recording() -> None:
    facts = (Facts().opened("2026-01-05T10:00:00+08:00")
             .activity("2026-01-05T11:00:00+08:00", "call",
                       recorded="2026-01-07T00:00:00+08:00"))
    assert facts.one("first_contact", "2026-01-05T10:59:00+08:00").outcome == "open"
    assert facts.one("first_contact", "2026-01-10T00:00:00+08:00").outcome == "met"
    as_known = facts.one("first_contact", "2026-01-10T00:00:00+08:00",
                         known_at="2026-01-06T00:00:00+08:00")
    assert as_known.outcome == "breached"
