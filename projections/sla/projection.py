"""The SLA view's tables and how events fill them (batched, deterministic).

The view keeps what SLA evaluation needs, not outcomes: outcomes depend on the as-of and
known-at times a reader asks for, so they are computed when read (``projections.sla.query``).
Deal, fact, profile, escalation and step rows are a function of each event alone
(insert-only); a due row is a function of its deal's facts (the earliest start wins, see
``projections.sla.clocks``).
So any batch boundaries give the same tables.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import BigInteger, Column, Connection, Index, Integer, String, Table, delete, select

from engine.domain.deal import Deal
from engine.domain.escalation import (
    BREACHED,
    CORRECTED,
    STEP_CORRECTED,
    STEP_RECORDED,
    Escalation,
)
from engine.domain.rep import Rep
from engine.store.chunks import lookup_chunks
from engine.store.log import LoggedEvent
from projections.base import BulkLoad, Projection
from projections.sla.clocks import DueMemo, DueTimes
from projections.sla.columns import UtcInstant, utc_text
from projections.sla.model import SlaFact
from workflows import WorkflowRegistry

__all__ = ["SlaProjection"]

#: A log position as a row's key: BIGINT, but on SQLite INTEGER, which makes the column the
#: table's rowid: one B-tree per row fewer to write (a BIGINT key is a separate unique index
#: beside the rowid), ~0.7 us of the SLA view's ~8 us per fact row; the same values.
POSITION_KEY = BigInteger().with_variant(Integer(), "sqlite")

Row = tuple[Any, ...]
T = TypeVar("T")
#: (fact_type, kind, purpose, from_stage, to_stage, owner)
Fields = tuple[str, str | None, str | None, str | None, str | None, str | None]

#: Deal events -> the contract fact type they record, and the fields SLA rules may test.
_FACTS: dict[type[Any], Callable[[Any], Fields]] = {
    Deal.Opened: lambda e: ("deal.opened", None, None, None, e.stage, e.owner),
    # The owner the engine chose for a deal opened without one (None: unassigned).
    Deal.Routed: lambda e: ("deal.routed", None, None, None, None, e.owner),
    Deal.StageChanged: lambda e: ("deal.stage_changed", None, None, e.from_stage, e.to_stage,
                                  None),
    Deal.ActivityLogged: lambda e: ("activity.logged", e.kind, e.purpose, None, None, None),
    Deal.Noted: lambda e: (e.fact_type, None, None, None, None, None),
    Deal.QuoteIssued: lambda e: ("quote.issued", None, None, None, None, None),
    Deal.AmountChanged: lambda e: ("deal.amount_changed", None, None, None, None, None),
    Deal.ContractSigned: lambda e: ("contract.signed", None, None, e.from_stage, e.to_stage,
                                    None),
    # The aggregate's lost stage is always called "lost" (Deal.Lost.apply).
    Deal.Lost: lambda e: ("deal.lost", None, None, e.from_stage, "lost", None),
    Deal.Reopened: lambda e: ("deal.reopened", None, None, "lost", e.to_stage, None),
    Deal.Reassigned: lambda e: ("deal.reassigned", None, None, None, None, e.owner),
    Deal.PaymentReceived: lambda e: ("payment.received", None, None, None, None, None),
    Deal.ContractCancelled: lambda e: ("contract.cancelled", None, None, None, None, None),
    Deal.SurveyResponded: lambda e: ("survey.responded", None, None, None, None, None),
}
_ESCALATION_STATUS: dict[type[Any], str] = {
    Escalation.Breached: BREACHED,
    Escalation.Rebreached: BREACHED,
    Escalation.Corrected: CORRECTED,
}
#: The ``meta`` row saying the ``due`` table covers every fact of the view, and its format
#: (a view whose tables predate the due times has no such row: it is filled once).
DUE_KEY = "due_times"
DUE_FORMAT = 2  # 2: escalation steps have due rows of their own
_WRITE_CHUNK = 10_000
#: Deals whose opening the live view keeps between batches (~300 bytes each: ~3 MB).
_OPENINGS = 10_000
Opening = tuple[str, int, datetime]


class SlaProjection(Projection):
    """View ``sla``: per deal its opening (subject, workflow and version), every fact with
    its times and log position (owners included: opened, routed, reassigned), every rep
    profile (its manager, by time), the SLA timer's escalation and escalation-step events,
    and the due time of every rule clock and ladder step (``due``, indexed by when the
    timer must judge it).

    ``workflows`` is the registry evaluation looks rules and calendars up in (the one
    ``bootstrap`` loaded, user definitions included).
    """

    name = "sla"

    deals: Table
    facts: Table
    escalations: Table
    steps: Table
    profiles: Table
    due: Table
    meta: Table

    def __init__(self, workflows: WorkflowRegistry, generation: str = "a") -> None:
        """The view over ``workflows``, on ``generation``."""
        self.workflows = workflows
        super().__init__(generation)

    def define_tables(self) -> None:
        """``deals``, ``facts``, ``profiles``, ``escalations``, ``steps``, ``due`` and
        ``meta``; times as UTC instants.

        ``process`` writes rows as tuples in the order the columns are declared here.
        """
        self.deals = self.table(
            "deals",
            Column("deal", String(36), primary_key=True),
            Column("subject", String()),
            Column("workflow", String(), nullable=False),
            Column("workflow_version", Integer, nullable=False),
            Column("account", String(), nullable=False),
            Column("position", BigInteger, nullable=False),
            # When the deal was opened and when that was recorded: a report as of T reads
            # only the deals open by T (a deal's clocks need its opening).
            Column("opened_at", UtcInstant, nullable=False),
            Column("opened_recorded_at", UtcInstant, nullable=False),
        )
        Index(self.table_name("deals_opened"), self.deals.c.opened_at)
        self.facts = self.table(
            "facts",
            Column("position", POSITION_KEY, primary_key=True, autoincrement=False),
            Column("deal", String(36), nullable=False),
            Column("source", String(), nullable=False),
            Column("fact_id", String(), nullable=False),
            Column("occurred_at", UtcInstant, nullable=False),
            Column("recorded_at", UtcInstant, nullable=False),
            Column("fact_type", String(), nullable=False),
            Column("kind", String()),
            Column("purpose", String()),
            Column("from_stage", String()),
            Column("to_stage", String()),
            Column("owner", String()),
        )
        Index(self.table_name("facts_deal"), self.facts.c.deal, self.facts.c.position)
        self.escalations = self._escalation_table(
            "escalations", Column("status", String(), nullable=False))
        # Escalation steps: status recorded/corrected; ``outcome`` what a recorded step
        # does (notify, no_owner, no_manager) or why a correction undid it (ended, lost,
        # cancelled); ``at`` the step's instant.
        self.steps = self._escalation_table(
            "steps",
            Column("step", String(), nullable=False),
            Column("status", String(), nullable=False),
            Column("outcome", String(), nullable=False),
            Column("recipient", String()),
            Column("at", UtcInstant, nullable=False),
        )
        # Rep profiles (``rep.profile_set``) by the rep aggregate's id: whose manager an
        # escalation step notifies, the profile in force at the deadline.
        self.profiles = self.table(
            "profiles",
            Column("position", POSITION_KEY, primary_key=True, autoincrement=False),
            Column("rep", String(36), nullable=False),
            Column("source", String(), nullable=False),
            Column("fact_id", String(), nullable=False),
            Column("occurred_at", UtcInstant, nullable=False),
            Column("recorded_at", UtcInstant, nullable=False),
            Column("manager", String()),
        )
        Index(self.table_name("profiles_rep"), self.profiles.c.rep)
        self.due = self.table(
            "due",
            Column("deal", String(36), primary_key=True),
            Column("rule", String(), primary_key=True),
            Column("instance", String(), primary_key=True),
            Column("step", String(), primary_key=True),
            Column("started_at", UtcInstant, nullable=False),
            Column("due_at", UtcInstant, nullable=False),
            Column("judge_at", UtcInstant, nullable=False),
        )
        Index(self.table_name("due_judge_at"), self.due.c.judge_at)
        self.meta = self.table(
            "meta",
            Column("key", String(64), primary_key=True),
            Column("value", Integer, nullable=False),
        )
        self._due_ready = False  # per instance and generation: checked on the first batch
        # Kept from batch to batch by the live view: due-time maths, and recent deals'
        # openings (workflow, version, time), which never change once in the log.
        self._memo = DueMemo()
        self._openings: dict[str, Opening] = {}

    def _escalation_table(self, base: str, *columns: Column[Any]) -> Table:
        """A table of escalation rows (escalations, their steps): position, deal, rule and
        instance, then ``columns``, then the fact's times; indexed by deal and by time."""
        table = self.table(
            base,
            Column("position", POSITION_KEY, primary_key=True, autoincrement=False),
            Column("deal", String(36), nullable=False),
            Column("rule", String(), nullable=False),
            Column("instance", String(), nullable=False),
            *columns,
            Column("occurred_at", UtcInstant, nullable=False),
            Column("recorded_at", UtcInstant, nullable=False),
        )
        Index(self.table_name(f"{base}_deal"), table.c.deal)
        Index(self.table_name(f"{base}_occurred_at"), table.c.occurred_at)
        return table

    def process(self, conn: Connection, events: Sequence[LoggedEvent]) -> None:
        """Insert one row per deal fact (and per opening, per escalation event); replace
        the due rows of the clocks the batch's facts start or move."""
        if not self._due_ready:
            _ensure_due(self, conn)
            self._due_ready = True
        batch = _Batch(events)
        batch.write(self, conn)
        if batch.by_deal:
            self._keep_due(conn, batch)

    def bulk_load(self) -> BulkLoad:
        """A rebuild keeps every deal's clock starts in memory and writes each due row once,
        at the end."""
        return _SlaBulkLoad(self)

    def _keep_due(self, conn: Connection, batch: _Batch) -> None:
        # Deals opened earlier whose new facts may start a clock: read their workflow and
        # opening (unless kept from an earlier batch), and their kept clocks (a `first`
        # start moves only to an earlier time). A deal opened in this batch has no kept
        # clocks; other facts start nothing.
        clocks = DueTimes(self.workflows, self._memo)
        earlier = sorted(deal for deal in batch.by_deal.keys() - batch.openings.keys()
                         if any(clocks.may_start(f) for f in batch.by_deal[deal]))
        known = self._openings
        if len(known) + len(batch.openings) > _OPENINGS:
            known.clear()
        for deal in earlier:
            opening = known.get(deal)
            if opening is not None:
                clocks.opened(deal, *opening)
        unknown = [deal for deal in earlier if deal not in known]
        for row in _openings(conn, self, unknown):
            known[row.deal] = (row.workflow, row.workflow_version, row.occurred_at)
            clocks.opened(row.deal, row.workflow, row.workflow_version, row.occurred_at)
        known.update(batch.openings)
        starting = [d for d in earlier if clocks.starting(d, batch.by_deal[d])]
        for chunk in lookup_chunks(starting):
            kept = select(self.due.c.deal, self.due.c.rule, self.due.c.instance,
                          self.due.c.started_at).where(self.due.c.deal.in_(chunk))
            for row in conn.execute(kept):
                clocks.kept(row.deal, row.rule, row.instance, row.started_at)
        batch.feed(clocks)
        _write(conn, self.due, clocks.rows(), keys=4)


class _Batch:
    """One batch's rows, and its deal facts and openings for the due times."""

    def __init__(self, events: Sequence[LoggedEvent]) -> None:
        self.deals: list[Row] = []
        self.facts: list[Row] = []
        self.escalations: list[Row] = []
        self.steps: list[Row] = []
        self.profiles: list[Row] = []
        self.by_deal: dict[str, list[SlaFact]] = {}
        self.openings: dict[str, tuple[str, int, datetime]] = {}
        for logged in events:
            event = logged.event
            fields = _FACTS.get(type(event))
            if fields is not None:
                deal = logged.originator_text
                values = fields(event)
                self.facts.append((logged.position, deal, event.source, event.fact_id,
                                   utc_text(event.occurred_at), utc_text(event.timestamp),
                                   *values))
                self.by_deal.setdefault(deal, []).append(SlaFact(
                    logged.position, values[0], event.source, event.fact_id,
                    event.occurred_at, event.timestamp, *values[1:]))
                if isinstance(event, Deal.Opened):
                    self.deals.append((deal, event.subject, event.workflow,
                                       event.workflow_version, event.account,
                                       logged.position, self.facts[-1][4],
                                       self.facts[-1][5]))
                    self.openings[deal] = (event.workflow, event.workflow_version,
                                           event.occurred_at)
                continue
            status = _ESCALATION_STATUS.get(type(event))
            if status is not None:
                self.escalations.append((logged.position, event.deal, event.rule,
                                         event.instance, status, utc_text(event.occurred_at),
                                         utc_text(event.timestamp)))
            elif isinstance(event, Escalation.StepRecorded):
                self.steps.append((logged.position, event.deal, event.rule, event.instance,
                                   event.step, STEP_RECORDED, event.status, event.recipient,
                                   utc_text(event.occurred_at), utc_text(event.occurred_at),
                                   utc_text(event.timestamp)))
            elif isinstance(event, Escalation.StepCorrected):
                self.steps.append((logged.position, event.deal, event.rule, event.instance,
                                   event.step, STEP_CORRECTED, event.reason, None,
                                   utc_text(event.step_at), utc_text(event.occurred_at),
                                   utc_text(event.timestamp)))
            elif isinstance(event, Rep.ProfileSet):
                self.profiles.append((logged.position, logged.originator_text, event.source,
                                      event.fact_id, utc_text(event.occurred_at),
                                      utc_text(event.timestamp), event.manager))

    def write(self, view: SlaProjection, conn: Connection) -> None:
        """Insert the batch's deal, fact and escalation rows."""
        for table, rows in ((view.deals, self.deals), (view.facts, self.facts),
                            (view.escalations, self.escalations), (view.steps, self.steps),
                            (view.profiles, self.profiles)):
            _write(conn, table, rows)

    def feed(self, clocks: DueTimes) -> None:
        """Give ``clocks`` the batch's openings, then its facts."""
        for deal, opening in self.openings.items():
            clocks.opened(deal, *opening)
        for deal, facts in self.by_deal.items():
            for fact in facts:
                clocks.take(deal, fact)


class _SlaBulkLoad(BulkLoad):
    """Facts, openings and escalations with every batch (insert-only); every clock's start
    in memory, its due row written once by :meth:`finish`."""

    view: SlaProjection

    def __init__(self, view: SlaProjection) -> None:
        super().__init__(view)
        self.clocks = DueTimes(view.workflows)

    def process(self, conn: Connection, events: Sequence[LoggedEvent]) -> None:
        batch = _Batch(events)
        batch.write(self.view, conn)
        batch.feed(self.clocks)

    def finish(self, conn: Connection) -> None:
        _write_all(conn, self.view, self.clocks)


def _ensure_due(view: SlaProjection, conn: Connection) -> None:
    """Fill the due table from the kept facts once, if the view's tables predate it."""
    meta = view.meta
    found = conn.execute(select(meta.c.value).where(meta.c.key == DUE_KEY)).scalar()
    if found == DUE_FORMAT:
        return
    conn.execute(delete(view.due))
    clocks = DueTimes(view.workflows)
    for row in _openings(conn, view, None):
        clocks.opened(row.deal, row.workflow, row.workflow_version, row.occurred_at)
    facts = view.facts
    columns = [facts.c.deal, *(facts.c[f.name] for f in dataclasses.fields(SlaFact))]
    # Starts are minima: any order of the facts gives the same clocks.
    for row in conn.execute(select(*columns).execution_options(yield_per=5000)):
        clocks.take(row[0], SlaFact(*row[1:]))
    _write_all(conn, view, clocks)


def _write_all(conn: Connection, view: SlaProjection, clocks: DueTimes) -> None:
    """Every clock's due row, then the mark that the due table is complete."""
    for chunk in _chunks(clocks.every_row(), _WRITE_CHUNK):
        _write(conn, view.due, chunk)
    _write(conn, view.meta, [(DUE_KEY, DUE_FORMAT)], keys=1)


def _openings(conn: Connection, view: SlaProjection, deals: list[str] | None
              ) -> Iterator[Any]:
    """(deal, workflow, workflow_version, occurred_at) of the openings of ``deals`` (all:
    None)."""
    d, f = view.deals, view.facts
    query = (select(d.c.deal, d.c.workflow, d.c.workflow_version, f.c.occurred_at)
             .join(f, f.c.position == d.c.position))
    if deals is None:
        yield from conn.execute(query.execution_options(yield_per=5000))
        return
    for chunk in lookup_chunks(deals):
        yield from conn.execute(query.where(d.c.deal.in_(chunk)))


def _chunks(items: Iterable[T], size: int) -> Iterator[list[T]]:
    chunk: list[T] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _write(conn: Connection, table: Table, rows: Sequence[Row], keys: int = 0) -> None:
    # The driver's executemany with rows in column order: SQLAlchemy's per-row parameter
    # processing cost more than the rest of a rebuild. Times are already UTC text. With
    # ``keys``, a row whose first ``keys`` columns exist replaces that row's other columns.
    if not rows:
        return
    quote = conn.dialect.identifier_preparer.quote
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    names = [quote(c.name) for c in table.columns]
    sql = (f"INSERT INTO {quote(table.name)} ({', '.join(names)}) "
           f"VALUES ({', '.join([mark] * len(names))})")
    if keys:
        sql += (f" ON CONFLICT ({', '.join(names[:keys])}) DO UPDATE SET "
                + ", ".join(f"{n} = excluded.{n}" for n in names[keys:]))
    conn.exec_driver_sql(sql, list(rows))
