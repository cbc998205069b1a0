"""The SLA view end to end (facts in, instances and report out), on SQLite and PostgreSQL."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console

from engine.domain import deal_id
from tests.engine.conftest import send
from tests.engine.facts import STANDARD_PATH, fact, opened
from tests.projections.sla.conftest import SlaHarness
from tests.workflows.helpers import shipped_data

LATER = datetime(2026, 6, 1, tzinfo=UTC)


def at(text: str) -> datetime:
    """An aware datetime from RFC 3339 text."""
    return datetime.fromisoformat(text)


def path_facts(subject: str, times: list[str], path: list[tuple[str, dict[str, Any]]]
               = STANDARD_PATH) -> list[dict[str, Any]]:
    """The first ``len(times)`` steps of ``path`` for ``subject`` at those times."""
    return [fact(t, subject, data, time=time) for (t, data), time in zip(path, times,
                                                                         strict=False)]


def test_business_hours_across_a_weekend(sla: SlaHarness) -> None:
    send(sla.engine,
         opened("D-fri", time="2026-01-09T17:00:00+08:00"),
         opened("D-sat", time="2026-01-10T10:00:00+08:00"),
         fact("activity.logged", "D-fri", {"kind": "call"}, time="2026-01-12T17:00:00+08:00"))
    friday = sla.one("D-fri", "first_contact", LATER)
    assert friday.subject == "D-fri"
    assert (friday.due_at, friday.outcome) == (at("2026-01-12T17:00:00+08:00"), "met")
    saturday = sla.one("D-sat", "first_contact", at("2026-01-12T18:00:00+08:00"))
    assert (saturday.due_at, saturday.outcome) == (at("2026-01-12T18:00:00+08:00"), "open")
    later = sla.one("D-sat", "first_contact", at("2026-01-12T18:00:00.000001+08:00"))
    assert later.outcome == "breached" and later.overdue


def test_a_configured_holiday(make_sla: Callable[..., SlaHarness], tmp_path: Path) -> None:
    data = shipped_data("channel")
    data["name"] = "channel_cn"
    data["calendar"]["holidays"] = ["2026-01-12", "2026-01-13"]
    folder = tmp_path / "definitions"
    folder.mkdir()
    (folder / "channel_cn.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    sla = make_sla(definitions=folder)
    send(sla.engine, opened("D-1", workflow="channel_cn", partner="partner-acme",
                            time="2026-01-09T17:00:00+08:00"),
         fact("deal.registration_approved", "D-1", time="2026-01-15T17:00:00+08:00"))
    first = sla.one("D-1", "first_contact", LATER)
    assert (first.workflow, first.due_at) == ("channel_cn", at("2026-01-14T17:00:00+08:00"))
    approval = sla.one("D-1", "registration_approval", LATER)
    assert (approval.due_at, approval.outcome) == (at("2026-01-15T17:00:00+08:00"), "met")


def test_offsets_in_timestamps_compare_as_instants(sla: SlaHarness) -> None:
    send(sla.engine,
         opened("D-1", time="2026-01-09T04:00:00-05:00"),  # Friday 17:00 in Shanghai
         fact("activity.logged", "D-1", {"kind": "email"}, time="2026-01-12T09:00:00Z"),
         opened("D-2", time="2026-01-09T09:00:00+00:00"),
         fact("activity.logged", "D-2", {"kind": "call"}, time="2026-01-12T14:30:00.000001+05:30"))
    met = sla.one("D-1", "first_contact", LATER)
    assert (met.started_at, met.due_at, met.outcome) == (
        at("2026-01-09T17:00:00+08:00"), at("2026-01-12T17:00:00+08:00"), "met")
    assert sla.one("D-2", "first_contact", LATER).outcome == "breached"


def test_a_late_thank_you_email_makes_the_rule_met(sla: SlaHarness) -> None:
    send(sla.engine, opened("D-1", time="2026-01-05T09:00:00+08:00"),
         *path_facts("D-1", ["2026-01-05T10:00:00+08:00", "2026-01-05T10:05:00+08:00",
                             "2026-01-06T11:00:00+08:00", "2026-01-06T11:05:00+08:00"]))
    as_of = at("2026-01-08T00:00:00+08:00")
    assert sla.one("D-1", "thank_you_email", as_of).outcome == "breached"
    before_email = datetime.now(UTC)
    send(sla.engine, fact("activity.logged", "D-1", {"kind": "email", "purpose": "thank_you"},
                          time="2026-01-05T16:00:00+08:00"))
    now = sla.one("D-1", "thank_you_email", as_of)
    assert (now.outcome, now.ended_at) == ("met", at("2026-01-05T16:00:00+08:00"))
    then = sla.one("D-1", "thank_you_email", as_of, known_at=before_email)
    assert then.outcome == "breached"


def test_a_reopened_deal_gets_a_new_dwell_clock(sla: SlaHarness) -> None:
    times = [f"2026-01-0{d}T10:00:00+08:00" for d in range(5, 10) for _ in (0, 1)]
    send(sla.engine, opened("D-1", time="2026-01-05T09:00:00+08:00"),
         *path_facts("D-1", times[:6]),  # ... -> proposal on 2026-01-07
         fact("deal.lost", "D-1", {"reason": "budget"}, time="2026-01-08T10:00:00+08:00"),
         fact("deal.reopened", "D-1", {}, time="2026-01-10T10:00:00+08:00"))
    first, second = [i for i in sla.instances(LATER)
                     if i.deal == str(deal_id("D-1")) and i.rule == "proposal_dwell"]
    assert (first.outcome, first.ended_at) == ("met", at("2026-01-08T10:00:00+08:00"))
    assert (second.started_at, second.due_at, second.outcome) == (
        at("2026-01-10T10:00:00+08:00"), at("2026-01-24T10:00:00+08:00"), "breached")


def test_report_counts_overdue_and_breaches(sla: SlaHarness) -> None:
    send(sla.engine,
         opened("D-1", time="2026-01-05T10:00:00+08:00"),
         fact("activity.logged", "D-1", {"kind": "call"}, time="2026-01-05T11:00:00+08:00"),
         opened("D-2", time="2026-01-05T10:00:00+08:00"),
         opened("D-3", time="2026-01-05T10:00:00+08:00"),
         fact("deal.lost", "D-3", {"reason": "no budget"}, time="2026-01-05T12:00:00+08:00"),
         opened("D-4", time="2026-01-07T10:00:00+08:00"))
    report = sla.report(at("2026-01-07T12:00:00+08:00"))
    data = report.to_json()
    rules = {r["rule"]: r for r in data["rules"]}
    assert rules["first_contact"] == {"workflow": "standard", "rule": "first_contact", "met": 1,
                                      "breached": 1, "open": 1, "cancelled": 1, "total": 4}
    assert rules["thank_you_email"]["breached"] == 1
    assert [(i["subject"], i["rule"]) for i in data["overdue"]] == [
        ("D-2", "first_contact"), ("D-1", "thank_you_email")]
    assert data["overdue"][0]["due_at"] == "2026-01-06T10:00:00+08:00"
    assert len(data["breaches"]) == 2
    out = io.StringIO()
    Console(file=out, width=160).print(*report.tables())
    assert "first_contact" in out.getvalue() and "Overdue (2)" in out.getvalue()
