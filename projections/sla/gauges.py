"""The SLA counts /metrics exports, kept up to date at the cost of what changed.

A full SLA report as of now evaluates every deal the view knows: its cost grows with the
log. The gauges need only counts (instances per rule and outcome, overdue instances per
rule, escalation steps per rule and step), so :class:`SlaCounts` evaluates every deal once
(a chunk of deals at a time, nothing kept but the counts) and afterwards, at each refresh
as of ``now``, only the deals whose instances may differ from the last refresh's: the same
set the SLA timer judges (``docs/sla.md``: a clock whose ``judge_at`` passed, a fact or an
escalation recorded since, an escalation timed in the window), plus deals holding a fact
timed after the last refresh, which comes into view as time passes. Each such deal's
instances as of the last refresh are taken out of the counts and its instances as of now
put in.

Exact, whatever the views runner does meanwhile: every refresh reads the view's position
``P`` first and evaluates each deal from its rows recorded up to ``P`` (rows are
insert-only), so the counts are those of the log up to ``P`` as of ``now``; the deals with
a fact after the last position are found after the due-time index is read, so a deal whose
due row a newer fact replaced is still found.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from rich.table import Table
from sqlalchemy import Connection

from engine.store import positions
from projections.formatting import ReportTable, count
from projections.report import ReportParams
from projections.sla.evaluate import evaluate_deal
from projections.sla.model import DealHistory
from projections.sla.projection import SlaProjection
from projections.sla.query import (
    deals_due,
    deals_with_escalations,
    deals_with_facts_after,
    due_times_ready,
    histories,
)
from projections.sla.report import SlaTally, escalations_json, rules_json
from workflows import CompiledWorkflow

__all__ = ["SlaCounts", "SlaGauges"]


@dataclass(frozen=True)
class SlaGauges:
    """The SLA counts as of ``params``, from the view's log up to ``position``; ``deals``
    is how many deals the refresh that made them evaluated (all of them on a full pass)."""

    params: ReportParams
    position: int
    tally: SlaTally
    deals: int = 0
    full: bool = False
    title: str = field(default="SLA counts")

    def to_json(self) -> dict[str, Any]:
        """``as_of``, ``position``, ``rules`` (outcome counts, as in the report),
        ``overdue`` (per rule: ``count``) and ``escalations`` (step counts, as in the
        report)."""
        return {
            "report": "sla", "as_of": self.params.as_of.isoformat(),
            "position": self.position, "rules": rules_json(self.tally.counts),
            "overdue": [{"workflow": w, "rule": r, "count": n}
                        for (w, r), n in self.tally.overdue.items()],
            "escalations": escalations_json(self.tally.escalations),
        }

    def tables(self) -> list[Table]:
        """Counts per rule, for the terminal."""
        numbers = ("met", "breached", "open", "cancelled", "overdue")
        table = ReportTable(self.title, "workflow", "rule", *numbers, numbers=numbers)
        for c in self.tally.counts:
            table.add_cells(c.workflow, c.rule, count(c.met), count(c.breached),
                            count(c.open), count(c.cancelled),
                            count(self.tally.late[(c.workflow, c.rule)]))
        return [table]


class SlaCounts:
    """The SLA counts as of now, refreshed incrementally (see the module docstring).

    One instance per process that exports them; :meth:`refresh` is serialized."""

    def __init__(self) -> None:
        """Nothing counted yet: the first refresh is a full pass."""
        self._guard = threading.Lock()
        self._tally = SlaTally()
        self._at: datetime | None = None
        self._position = 0
        self._generation: str | None = None
        #: Deals with a fact timed after the last refresh: the earliest such time.
        self._future: dict[str, datetime] = {}
        self._compiled: dict[tuple[str, int], CompiledWorkflow] = {}

    def refresh(self, conn: Connection, view: SlaProjection, now: datetime) -> SlaGauges:
        """The counts as of ``now`` for the log the view has applied."""
        with self._guard:
            position = int(positions.rows(conn)[view.name]["position"])
            last, at = self._position, self._at
            full = (at is None or now < at or view.generation != self._generation
                    or not due_times_ready(conn, view))
            evaluated = 0
            if full:
                self._tally, self._future, self._compiled = SlaTally(), {}, {}
                for history in histories(conn, view, chunked=True):
                    self._count(view, history, position, now, 1)
                    evaluated += 1
            else:
                assert at is not None
                deals = (deals_due(conn, view, at, now)
                         | deals_with_escalations(conn, view, last, at, now)
                         | {d for d, t in self._future.items() if t <= now}
                         # after the due index: a newer fact that replaced a due row is seen
                         | deals_with_facts_after(conn, view, last))
                for history in histories(conn, view, deals):
                    self._count(view, history, last, at, -1)
                    self._count(view, history, position, now, 1)
                    evaluated += 1
            self._at, self._position, self._generation = now, position, view.generation
            return SlaGauges(ReportParams(as_of=now), position, self._tally.copy(),
                             deals=evaluated, full=full)

    def _count(self, view: SlaProjection, history: DealHistory, position: int,
               at: datetime, sign: int) -> None:
        """Add (``sign`` 1) or take out (-1) the instances of ``history``'s rows up to
        ``position`` as of ``at``; when adding, note a fact timed after ``at``."""
        seen = _upto(history, position)
        if sign > 0:
            later = [f.occurred_at for f in seen.facts if f.occurred_at > at]
            if later:
                self._future[history.deal] = min(later)
            else:
                self._future.pop(history.deal, None)
        if not seen.facts:
            return
        key = (history.workflow, history.workflow_version)
        workflow = self._compiled.get(key)
        if workflow is None:
            workflow = self._compiled[key] = view.workflows.get(*key)
        for instance in evaluate_deal(seen, workflow, ReportParams(as_of=at)):
            self._tally.add(instance, sign)


def _upto(history: DealHistory, position: int) -> DealHistory:
    """``history`` with only its rows recorded at or before log ``position``."""
    def kept(rows: Iterable[Any]) -> tuple[Any, ...]:
        return tuple(r for r in rows if r.position <= position)

    facts, escalations, steps = (kept(history.facts), kept(history.escalations),
                                 kept(history.steps))
    if (len(facts), len(escalations), len(steps)) == (
            len(history.facts), len(history.escalations), len(history.steps)):
        return history
    return dataclasses.replace(history, facts=facts, escalations=escalations, steps=steps)
