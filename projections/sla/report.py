"""The SLA report: per-rule outcome counts, what is overdue, and every breach."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar, get_args
from zoneinfo import ZoneInfo

from rich.table import Table
from sqlalchemy import Connection, select

from engine.domain.ids import deal_id
from engine.errors import NotFoundError
from projections.formatting import NONE, ReportTable, count, moment
from projections.report import ReportParams
from projections.sla.model import Outcome, SlaInstance, StepState
from projections.sla.projection import SlaProjection
from projections.sla.query import instances

__all__ = ["RuleCounts", "SlaReport", "SlaTally", "StepCounts", "build_report",
           "escalations_json", "rules_json"]

OUTCOMES: tuple[Outcome, ...] = get_args(Outcome)


@dataclass(frozen=True, slots=True)
class RuleCounts:
    """How many instances of one rule of one workflow ended each way."""

    workflow: str
    rule: str
    met: int = 0
    breached: int = 0
    open: int = 0
    cancelled: int = 0

    @property
    def total(self) -> int:
        """All instances."""
        return self.met + self.breached + self.open + self.cancelled


@dataclass(frozen=True, slots=True)
class StepCounts:
    """How many escalation steps of one rule's ladder step the timer recorded as of the
    report, and how each stands: ``notified`` (a recipient), ``no_owner``,
    ``no_manager``; ``corrected`` counts those a later fact undid (also in the others)."""

    workflow: str
    rule: str
    step: str
    recorded: int = 0
    notified: int = 0
    no_owner: int = 0
    no_manager: int = 0
    corrected: int = 0


_STEP_STATES = ("recorded", "notified", "no_owner", "no_manager", "corrected")


class SlaTally:
    """Outcome counts per (workflow, rule), overdue counts per (workflow, rule) and
    escalation-step counts per (workflow, rule, step) of instances added one at a time: the
    report's counts, and the /metrics gauges, which count without keeping instances."""

    def __init__(self) -> None:
        """An empty tally."""
        self.outcomes: Counter[tuple[str, str, str]] = Counter()
        self.late: Counter[tuple[str, str]] = Counter()
        self.steps: dict[tuple[str, str, str], Counter[str]] = {}

    @classmethod
    def of(cls, found: Iterable[SlaInstance]) -> SlaTally:
        """The tally of ``found``."""
        tally = cls()
        for i in found:
            tally.add(i)
        return tally

    def add(self, i: SlaInstance, sign: int = 1) -> None:
        """Count instance ``i`` (``sign`` -1: take it out again; a count that reaches zero
        is dropped, so adding and taking out leaves the tally as it was)."""
        _bump(self.outcomes, (i.workflow, i.rule, i.outcome), sign)
        if i.overdue:
            _bump(self.late, (i.workflow, i.rule), sign)
        for s in i.steps:
            key = (i.workflow, i.rule, s.step)
            counter = self.steps.setdefault(key, Counter())
            _bump(counter, "recorded", sign)
            _bump(counter, "notified" if s.outcome == "notify" else s.outcome, sign)
            if s.status == "corrected":
                _bump(counter, "corrected", sign)
            if not counter:
                del self.steps[key]

    def copy(self) -> SlaTally:
        """An independent copy."""
        other = SlaTally()
        other.outcomes = self.outcomes.copy()
        other.late = self.late.copy()
        other.steps = {k: c.copy() for k, c in self.steps.items()}
        return other

    @property
    def counts(self) -> list[RuleCounts]:
        """Outcome counts per (workflow, rule), sorted."""
        keys = sorted({(w, r) for w, r, _ in self.outcomes})
        return [RuleCounts(w, r, **{o: self.outcomes[(w, r, o)] for o in OUTCOMES})
                for w, r in keys]

    @property
    def overdue(self) -> dict[tuple[str, str], int]:
        """Instances breached and still outstanding per (workflow, rule), sorted."""
        return dict(sorted(self.late.items()))

    @property
    def escalations(self) -> list[StepCounts]:
        """Escalation steps per (workflow, rule, step), sorted."""
        return [StepCounts(w, r, st, **{k: c[k] for k in _STEP_STATES})
                for (w, r, st), c in sorted(self.steps.items())]


K = TypeVar("K")


def _bump(counter: Counter[K], key: K, sign: int) -> None:
    value = counter[key] + sign
    if value:
        counter[key] = value
    else:
        del counter[key]


def rules_json(counts: list[RuleCounts]) -> list[dict[str, Any]]:
    return [{"workflow": c.workflow, "rule": c.rule, "met": c.met, "breached": c.breached,
             "open": c.open, "cancelled": c.cancelled, "total": c.total} for c in counts]


def escalations_json(steps: list[StepCounts]) -> list[dict[str, Any]]:
    return [{"workflow": c.workflow, "rule": c.rule, "step": c.step,
             **{k: getattr(c, k) for k in _STEP_STATES}} for c in steps]


@dataclass(frozen=True)
class SlaReport:
    """SLA compliance as of ``params`` (see :class:`projections.report.Report`).

    ``deal`` (a subject) when the report is of one deal: it then lists every instance.
    ``limit`` caps the overdue and breach lists (their totals are still given).
    """

    params: ReportParams
    instances: tuple[SlaInstance, ...]
    title: str = field(default="SLA compliance")
    deal: str | None = None
    limit: int | None = None

    @property
    def counts(self) -> list[RuleCounts]:
        """Outcome counts per (workflow, rule), sorted."""
        return SlaTally.of(self.instances).counts

    @property
    def escalations(self) -> list[StepCounts]:
        """Escalation steps per (workflow, rule, step), sorted."""
        return SlaTally.of(self.instances).escalations

    @property
    def overdue(self) -> list[SlaInstance]:
        """Breached and still outstanding as of the report's time, most overdue first."""
        return sorted((i for i in self.instances if i.overdue),
                      key=lambda i: (i.due_at, i.deal, i.rule, i.instance))

    @property
    def breaches(self) -> list[SlaInstance]:
        """Every breached instance, by deadline."""
        return sorted((i for i in self.instances if i.outcome == "breached"),
                      key=lambda i: (i.due_at, i.deal, i.rule, i.instance))

    def to_json(self) -> dict[str, Any]:
        """``as_of``, ``known_at``, ``rules`` (counts), ``overdue`` and ``breaches``."""
        return {
            "report": "sla",
            "as_of": self.params.as_of.isoformat(),
            "known_at": None if self.params.known_at is None else self.params.known_at.isoformat(),
            "rules": rules_json(self.counts),
            "overdue": [instance_json(i) for i in self._cap(self.overdue)],
            "breaches": [instance_json(i) for i in self._cap(self.breaches)],
            "overdue_total": len(self.overdue),
            "breaches_total": len(self.breaches),
            "escalations": escalations_json(self.escalations),
            **({} if self.deal is None else {
                "deal": self.deal, "instances": [instance_json(i) for i in self.instances]}),
        }

    def _cap(self, rows: list[SlaInstance]) -> list[SlaInstance]:
        return rows if self.limit is None else rows[: self.limit]

    def tables(self) -> list[Table]:
        """Counts per rule, the overdue list and the breaches, for the terminal; times in
        each workflow calendar's zone (formats: projections.formatting)."""
        zones = sorted({i.timezone for i in self.instances})
        zone = zones[0] if len(zones) == 1 else None
        known = "" if self.params.known_at is None else (
            f", as known at {moment(self.params.known_at, zone)}")
        where = "" if not zones else (
            f" (times in {zone})" if zone else " (times in each workflow calendar's zone)")
        outcomes = (*OUTCOMES, "total")
        counts = ReportTable(f"{self.title} as of {moment(self.params.as_of, zone)}{known}"
                             f"{where}", "workflow", "rule", *outcomes, numbers=outcomes)
        for c in self.counts:
            counts.add_cells(c.workflow, c.rule, *(count(n) for n in (
                c.met, c.breached, c.open, c.cancelled, c.total)))
        tables: list[Table] = [counts]
        steps = self.escalations
        if steps:
            numbers = ("recorded", "notified", "no owner", "no manager", "corrected")
            ladder = ReportTable("Escalation steps recorded", "workflow, rule, step",
                                 *numbers, numbers=numbers)
            for sc in steps:
                ladder.add_cells(f"{sc.workflow}\n{sc.rule}\n{sc.step}", *(count(n) for n in (
                    sc.recorded, sc.notified, sc.no_owner, sc.no_manager, sc.corrected)))
            tables.append(ladder)
        if self.deal is not None:
            tables.append(_instances_table(f"SLA instances of deal {self.deal}",
                                           list(self.instances)))
        tables += [_list_table("Overdue", self.overdue, self.limit, ended=False),
                   _list_table("Breaches", self.breaches, self.limit)]
        return tables


def instance_json(i: SlaInstance) -> dict[str, Any]:
    """One instance as JSON, times in the workflow calendar's zone (RFC 3339)."""
    return {
        "deal": i.deal, "subject": i.subject, "account": i.account, "owner": i.owner,
        "workflow": i.workflow,
        "workflow_version": i.workflow_version, "rule": i.rule, "instance": i.instance,
        "started_at": _iso(i.started_at, i.timezone), "due_at": _iso(i.due_at, i.timezone),
        "outcome": i.outcome, "ended_at": _iso(i.ended_at, i.timezone),
        "cancelled_at": _iso(i.cancelled_at, i.timezone), "escalation": i.escalation,
        "escalated_at": _iso(i.escalated_at, i.timezone),
        "corrected_at": _iso(i.corrected_at, i.timezone),
        "steps": [{"step": s.step, "status": s.status, "outcome": s.outcome,
                   "recipient": s.recipient, "at": _iso(s.at, i.timezone),
                   "corrected_at": _iso(s.corrected_at, i.timezone), "reason": s.reason}
                  for s in i.steps],
    }


def _iso(value: datetime | None, zone: str) -> str | None:
    return None if value is None else value.astimezone(ZoneInfo(zone)).isoformat()


def _moment(value: datetime | None, i: SlaInstance) -> str:
    return moment(value, i.timezone)


def _span(i: SlaInstance) -> str:
    """Start, then deadline."""
    return f"{_moment(i.started_at, i)}\n{_moment(i.due_at, i)}"


def _ended(i: SlaInstance) -> str:
    """When the clock stopped: its end, or the cancelling fact's time."""
    if i.cancelled_at is not None and i.ended_at is None:
        return f"{_moment(i.cancelled_at, i)} (cancelled)"
    return _moment(i.ended_at, i)


def _escalated(i: SlaInstance) -> str:
    """When the SLA timer recorded the breach, and whether it was corrected since."""
    if i.escalated_at is None:
        return NONE
    corrected = " (corrected)" if i.escalation == "corrected" else ""
    return _moment(i.escalated_at, i) + corrected


def _instances_table(title: str, rows: list[SlaInstance]) -> Table:
    table = ReportTable(title, "rule, instance", "outcome", "started, due", "ended",
                        keep=("started, due", "ended"))
    for i in rows:
        outcome = i.outcome + ("" if i.escalation is None else f"\n(escalation {i.escalation})")
        outcome += "".join(f"\n{_step(s, i)}" for s in i.steps)
        table.add_cells(f"{i.rule}\n{i.instance}", outcome, _span(i), _ended(i))
    return table


def _step(s: StepState, i: SlaInstance) -> str:
    """``step manager+9h: boss-1`` (or no_manager), with its correction."""
    who = s.recipient or s.outcome
    undone = "" if s.status != "corrected" else f" (corrected: {s.reason})"
    return f"step {s.step} {_moment(s.at, i)}: {who}{undone}"


def _list_table(title: str, rows: list[SlaInstance], limit: int | None = None, *,
                ended: bool = True) -> Table:
    """Instances by deal, with their start and deadline; or with ``ended``, their deadline
    and end (the start is in the JSON and in a deal's listing)."""
    shown = rows if limit is None else rows[:limit]
    more = f", first {count(len(shown))}" if len(shown) < len(rows) else ""
    span = "due, ended" if ended else "started, due"
    table = ReportTable(f"{title} ({count(len(rows))}{more})", "deal, account, owner", "rule",
                        span, "escalated", keep=(span, "escalated"))
    for i in shown:
        times = f"{_moment(i.due_at, i)}\n{_ended(i)}" if ended else _span(i)
        table.add_cells(f"{i.subject or i.deal}\n{i.account}, {i.owner or NONE}", i.rule,
                        times, _escalated(i))
    return table


def build_report(
    conn: Connection,
    view: SlaProjection,
    params: ReportParams,
    *,
    deal: str | None = None,
    rep: str | None = None,
    rule: str | None = None,
    limit: int | None = None,
) -> SlaReport:
    """The SLA report from the view's rows as of ``params`` (no wall clock).

    ``deal`` (a subject): only that deal's instances, all listed (only its rows are read);
    ``rep``: deals owned by the rep; ``rule``: instances of that rule; ``limit``: at most
    that many overdue and breached instances listed. An unknown deal is a
    :class:`NotFoundError`.
    """
    only = None if deal is None else [str(deal_id(deal))]
    found = instances(conn, view, params, only)
    if deal is not None and not found and not _has_deal(conn, view, only):
        raise NotFoundError(f"no deal {deal!r} in the SLA view")
    chosen = tuple(i for i in found if (rep is None or i.owner == rep)
                   and (rule is None or i.rule == rule))
    return SlaReport(params=params, instances=chosen, deal=deal, limit=limit)


def _has_deal(conn: Connection, view: SlaProjection, only: list[str] | None) -> bool:
    return only is not None and conn.execute(
        select(view.deals.c.deal).where(view.deals.c.deal.in_(only))).first() is not None
