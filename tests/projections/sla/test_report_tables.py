"""The SLA report's tables as a person reads them at 80 columns: instants in the workflow
calendar's zone in the one time format, the zone in the title, no deal or rule cut (the
report built from its instances)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from projections.report import ReportParams
from projections.sla import SlaReport
from projections.sla.model import SlaInstance
from tests.cli.tables import MOMENT, assert_readable

SUBJECT = "ACME-ENTERPRISE-RENEWAL-2026-SHANGHAI-000001"  # longer than an 80-column cell


def _at(day: int, hour: int) -> datetime:
    return datetime(2026, 1, day, hour, 5, tzinfo=UTC)


def _report(deal: str | None = None) -> SlaReport:
    common: dict[str, Any] = {
        "deal": "2428de3c-aggregate", "account": "acct-shanghai-logistics-0042",
        "owner": "rep-07", "workflow": "enterprise", "workflow_version": 3,
        "timezone": "Asia/Shanghai", "subject": SUBJECT}
    instances = (
        SlaInstance(**common, rule="registration_approval", instance="first",
                    started_at=_at(1, 2), due_at=_at(2, 2), outcome="breached",
                    escalation="breached", escalated_at=_at(2, 3)),
        SlaInstance(**common, rule="thank_you_email",
                    instance="crm-web/crm-2026q1-0000043", started_at=_at(3, 1),
                    due_at=_at(4, 1), outcome="breached", ended_at=_at(6, 1),
                    escalation="corrected", escalated_at=_at(4, 2), corrected_at=_at(6, 2)),
        SlaInstance(**common, rule="first_contact", instance="first", started_at=_at(5, 1),
                    due_at=_at(6, 1), outcome="cancelled", cancelled_at=_at(5, 9)),
    )
    return SlaReport(ReportParams(as_of=datetime(2026, 3, 31, 15, 59, tzinfo=UTC)),
                     instances, deal=deal)


def test_every_table_reads_at_80_columns() -> None:
    for table in _report(deal=SUBJECT).tables():
        assert_readable(table)


def test_times_are_in_the_calendar_zone_and_named() -> None:
    counts, instances, overdue, breaches = _report(deal=SUBJECT).tables()
    assert counts.title == ("SLA compliance as of 2026-03-31 23:59 +08:00 "
                            "(times in Asia/Shanghai)")
    cells = {str(c.header): [str(cell) for cell in c.cells] for c in instances.columns}
    assert cells["started, due"][0] == "2026-01-01 10:05 +08:00\n2026-01-02 10:05 +08:00"
    assert cells["ended"] == ["-", "2026-01-06 09:05 +08:00",
                              "2026-01-05 17:05 +08:00 (cancelled)"]
    assert cells["outcome"][:2] == ["breached\n(escalation breached)",
                                    "breached\n(escalation corrected)"]
    listed = {str(c.header): [str(cell) for cell in c.cells] for c in overdue.columns}
    assert listed["deal, account, owner"] == [f"{SUBJECT}\nacct-shanghai-logistics-0042, "
                                              "rep-07"]
    assert listed["escalated"] == ["2026-01-02 11:05 +08:00"]
    late = {str(c.header): [str(cell) for cell in c.cells] for c in breaches.columns}
    assert late["escalated"][1] == "2026-01-04 10:05 +08:00 (corrected)"
    for value in [*late["due, ended"], *listed["started, due"]]:
        assert all(line == "-" or MOMENT.match(line) for line in value.splitlines()), value
    assert (overdue.title, breaches.title) == ("Overdue (1)", "Breaches (2)")
