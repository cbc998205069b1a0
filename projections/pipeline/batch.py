"""One batch of the pipeline projection: load the touched rows, apply events in log order,
write the changed rows and the totals' deltas."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, and_, delete, select, update

from engine.domain import Deal, FactEvent, Rep
from engine.store.log import LoggedEvent
from projections.pipeline.columns import (
    add_counts,
    instant_decoder,
    instant_encoder,
    money,
    read_rows,
    upsert,
    write_rows,
)
from projections.pipeline.state import DealState, Key, Vector, contributions
from projections.pipeline.stats import micros, span_bucket
from projections.pipeline.tables import PipelineTables
from workflows import CompiledWorkflow, WorkflowRegistry

__all__ = ["HANDLED", "PipelineBatch"]

HANDLED: frozenset[type[Any]] = frozenset({
    Deal.Opened, Deal.StageChanged, Deal.ContractSigned, Deal.Lost, Deal.Reopened,
    Deal.QuoteIssued, Deal.AmountChanged, Deal.Reassigned, Deal.Routed, Deal.ContractCancelled,
    Rep.Registered, Rep.QuotaSet,
})
#: How the view keeps "no owner" (a deal opened unassigned, 1.1) in its NOT NULL and key
#: columns; no rep id is empty (the contract refuses empty strings). Reports show None.
NO_OWNER = ""
_KEYS = {
    "totals": ("workflow", "workflow_version", "stage", "owner", "currency"),
    "forecast": ("workflow", "workflow_version", "stage", "currency", "close_month"),
}
_LOOKUP = {"totals": "owner", "forecast": "close_month"}  # an indexed column of the key
_ZERO = Decimal("0.00")


def _kind(wf: CompiledWorkflow, stage: str) -> str:
    if wf.is_open(stage):
        return "open"
    return "won" if stage == wf.won_stage else "lost"


class PipelineBatch:
    """Applies one batch of events to the pipeline tables (see ``PipelineProjection``)."""

    def __init__(self, tables: PipelineTables, conn: Connection,
                 workflows: WorkflowRegistry) -> None:
        """Nothing is read until :meth:`apply`."""
        self.t = tables
        self.conn = conn
        self.workflows = workflows
        self.deals: dict[str, DealState] = {}
        self.before: dict[str, dict[Key, Vector]] = {}
        self.stays: dict[str, dict[str, Any]] = {}  # each touched deal's current stay
        self.dirty_stays: dict[tuple[str, int], dict[str, Any]] = {}
        #: Stays completed by this batch, per (workflow, stage, duration bucket).
        self.stage_times: Counter[tuple[str, str, int]] = Counter()
        self.changes: list[dict[str, Any]] = []
        self.reps: dict[str, dict[str, Any]] = {}  # by rep uuid
        self.rep_names: dict[str, str] = {}  # rep -> uuid
        self.dirty_reps: set[str] = set()
        self.team_moves: set[str] = set()  # reps whose current team changed
        self.teams: list[dict[str, Any]] = []
        self.workflow_versions: set[tuple[str, int]] = set()
        self.occurred: datetime | None = None
        self.recorded: datetime | None = None
        # Deals, stays, changes and team rows hold instants as the driver takes them (UTC
        # text on SQLite): each event's are converted once, however many rows take them.
        self.instant = instant_encoder(conn.dialect.name)
        self.decode_instant = instant_decoder(conn.dialect.name)
        self.at: tuple[Any, Any] = (None, None)  # the event being taken: occurred, recorded

    # ------------------------------------------------------------------ driving
    def apply(self, events: Iterable[LoggedEvent]) -> None:
        """Apply ``events`` (already filtered to the :data:`HANDLED` types) and write the
        results."""
        self.take(events)
        self.write()

    def take(self, events: Iterable[LoggedEvent]) -> None:
        """Apply ``events`` to the state held in memory (loading what it lacks), writing
        nothing yet. Several calls before one :meth:`write` make a bulk load: the state
        of every deal stays in memory, and each row is written once."""
        mine = list(events)
        self._load_deals({e.originator_text for e in mine
                          if not isinstance(e.event, (Deal.Opened, Rep.Registered, Rep.QuotaSet))}
                         - self.deals.keys())
        self._load_reps(uuids={e.originator_text for e in mine
                               if isinstance(e.event, Rep.QuotaSet)}, names=set())
        instant = self.instant
        for e in mine:
            if isinstance(e.event, FactEvent):
                self._watermark(e)
            self.at = (instant(e.occurred_at), instant(e.recorded_at))
            _HANDLERS[type(e.event)](self, e, e.event)

    def write_appended(self) -> None:
        """Write the insert-only rows taken so far (changes, team moves) and forget them,
        so a bulk load does not hold them all in memory."""
        write_rows(self.conn, self.t.changes, self.changes, raw_instants=True)
        write_rows(self.conn, self.t.teams, self.teams, raw_instants=True)
        self.changes, self.teams = [], []

    def _wf(self, deal: DealState) -> CompiledWorkflow:
        return self.workflows.get(deal.workflow, deal.workflow_version)

    def _watermark(self, e: LoggedEvent) -> None:
        occurred, recorded = e.occurred_at, e.recorded_at
        if self.occurred is None or occurred > self.occurred:
            self.occurred = occurred
        if self.recorded is None or recorded > self.recorded:
            self.recorded = recorded

    # ------------------------------------------------------------------ loading
    def _load_deals(self, ids: set[str]) -> None:
        t = self.t
        for row in read_rows(self.conn, t.deals, "deal_id", ids, raw_instants=True):
            deal = DealState.from_row(row)
            self.deals[deal.deal_id] = deal
            self.before[deal.deal_id] = contributions(deal, self._wf(deal))
        for row in read_rows(self.conn, t.stays, "deal_id", ids, "exited_position IS NULL",
                             raw_instants=True):
            self.stays[row["deal_id"]] = row

    def _load_reps(self, uuids: set[str], names: set[str]) -> None:
        for column, wanted in (("rep_uuid", uuids - self.reps.keys()),
                               ("rep", names - self.rep_names.keys())):
            for row in read_rows(self.conn, self.t.reps, column, wanted):
                self.reps[row["rep_uuid"]] = row
                self.rep_names[row["rep"]] = row["rep_uuid"]

    # ----------------------------------------------------------------- handlers
    def _change(self, e: LoggedEvent, kind: str, owner: str | None = None,
                amount: Decimal | None = None, currency: str | None = None) -> None:
        self.changes.append({
            "position": e.position, "deal_id": e.originator_text, "kind": kind,
            "owner": owner, "amount": amount, "currency": currency,
            "occurred_at": self.at[0], "recorded_at": self.at[1],
        })

    def _deal(self, e: LoggedEvent) -> DealState:
        deal = self.deals[e.originator_text]
        deal.last_position = e.position
        return deal

    def _opened(self, e: LoggedEvent, ev: Deal.Opened) -> None:
        deal_id = e.originator_text
        wf = self.workflows.get(ev.workflow, ev.workflow_version)
        self.workflow_versions.add((wf.name, wf.version))
        occurred, recorded = self.at
        self.deals[deal_id] = DealState(
            deal_id=deal_id, workflow=ev.workflow, workflow_version=ev.workflow_version,
            account=ev.account, segment=ev.segment, partner=ev.partner,
            expected_close=ev.expected_close, opened_at=occurred,
            opened_recorded_at=recorded, opened_position=e.position, stage=ev.stage,
            probability=wf.probability(ev.stage), stage_entered_at=occurred,
            stage_entered_recorded_at=recorded, stage_entered_position=e.position,
            lost_from=None, owner=ev.owner or NO_OWNER, team=None, amount=money(ev.amount),
            currency=ev.currency, signed_at=None, signed_recorded_at=None,
            signed_position=None, signed_amount=None, signed_currency=None,
            cancelled_at=None, cancelled_recorded_at=None, cancelled_position=None,
            last_position=e.position,
        )
        self.before[deal_id] = {}
        self._enter(e, deal_id, 1, ev.workflow, ev.workflow_version, ev.stage, None, "opened")
        self._change(e, "opened", ev.owner or NO_OWNER, money(ev.amount), ev.currency)

    def _enter(self, e: LoggedEvent, deal_id: str, seq: int, workflow: str, version: int,
               stage: str, from_stage: str | None, by: str) -> None:
        stay = {
            "deal_id": deal_id, "seq": seq, "workflow": workflow, "workflow_version": version,
            "stage": stage, "from_stage": from_stage, "entered_by": by,
            "entered_at": self.at[0], "entered_recorded_at": self.at[1],
            "entered_position": e.position, "exited_at": None, "exited_recorded_at": None,
            "exited_position": None, "exited_by": None, "to_stage": None,
        }
        self.stays[deal_id] = stay
        self.dirty_stays[(deal_id, seq)] = stay

    def _move(self, e: LoggedEvent, to: str, by: str) -> DealState:
        deal = self._deal(e)
        current = self.stays[deal.deal_id]
        occurred, recorded = self.at
        # Time in stage (business time; a negative span, facts whose times run backwards,
        # counts as zero), counted in the view's histogram once, when the stay completes.
        span = max(0, micros(e.occurred_at - self.decode_instant(current["entered_at"])))
        self.stage_times[(current["workflow"], current["stage"], span_bucket(span))] += 1
        current.update(exited_at=occurred, exited_recorded_at=recorded,
                       exited_position=e.position, exited_by=by, to_stage=to)
        self.dirty_stays[(deal.deal_id, current["seq"])] = current
        self._enter(e, deal.deal_id, current["seq"] + 1, deal.workflow, deal.workflow_version,
                    to, deal.stage, by)
        deal.stage = to
        deal.probability = self._wf(deal).probability(to)
        deal.stage_entered_at, deal.stage_entered_recorded_at = occurred, recorded
        deal.stage_entered_position = e.position
        return deal

    def _advanced(self, e: LoggedEvent, ev: Deal.StageChanged) -> None:
        self._move(e, ev.to_stage, "advanced")

    def _signed(self, e: LoggedEvent, ev: Deal.ContractSigned) -> None:
        deal = self._move(e, ev.to_stage, "won")
        amount = money(ev.amount)
        deal.signed_at, deal.signed_recorded_at = self.at
        deal.signed_position = e.position
        deal.signed_amount, deal.signed_currency = amount, ev.currency
        deal.amount, deal.currency = amount, ev.currency
        self._change(e, "signed", None, amount, ev.currency)

    def _lost(self, e: LoggedEvent, ev: Deal.Lost) -> None:
        deal = self.deals[e.originator_text]
        from_stage = deal.stage
        self._move(e, self._wf(deal).lost_stage, "lost").lost_from = from_stage

    def _reopened(self, e: LoggedEvent, ev: Deal.Reopened) -> None:
        self._move(e, ev.to_stage, "reopened").lost_from = None

    def _amount(self, e: LoggedEvent, ev: Deal.QuoteIssued | Deal.AmountChanged) -> None:
        deal = self._deal(e)
        deal.amount, deal.currency = money(ev.amount), ev.currency
        kind = "quote" if isinstance(ev, Deal.QuoteIssued) else "amount"
        self._change(e, kind, None, deal.amount, ev.currency)

    def _reassigned(self, e: LoggedEvent, ev: Deal.Reassigned | Deal.Routed) -> None:
        owner = ev.owner or NO_OWNER
        self._deal(e).owner = owner
        self._change(e, "owner", owner)

    def _cancelled(self, e: LoggedEvent, ev: Deal.ContractCancelled) -> None:
        deal = self._deal(e)
        deal.cancelled_at, deal.cancelled_recorded_at = self.at
        deal.cancelled_position = e.position

    def _registered(self, e: LoggedEvent, ev: Rep.Registered) -> None:
        uuid = e.originator_text
        self.reps[uuid] = {"rep_uuid": uuid, "rep": ev.rep, "team": None, "team_at": None,
                           "team_position": None}
        self.rep_names[ev.rep] = uuid
        self.dirty_reps.add(uuid)

    def _quota_set(self, e: LoggedEvent, ev: Rep.QuotaSet) -> None:
        if ev.team is None:  # a quota without a team leaves the rep's team as it was
            return
        rep = self.reps[e.originator_text]
        self.teams.append({"position": e.position, "rep": rep["rep"], "team": ev.team,
                           "occurred_at": self.at[0], "recorded_at": self.at[1]})
        latest = rep["team_at"] is None or (e.occurred_at, e.position) > (
            rep["team_at"], rep["team_position"])
        if latest:
            if rep["team"] != ev.team:
                self.team_moves.add(rep["rep"])
            rep.update(team=ev.team, team_at=e.occurred_at, team_position=e.position)
            self.dirty_reps.add(rep["rep_uuid"])

    # ------------------------------------------------------------------ writing
    def write(self) -> None:
        """Write every row the events taken changed, and the totals' deltas."""
        t, conn = self.t, self.conn
        self._load_reps(uuids=set(), names={d.owner for d in self.deals.values()})
        for rep in sorted(self.team_moves):  # deals this batch did not touch
            team = self.reps[self.rep_names[rep]]["team"]
            conn.execute(update(t.deals).where(t.deals.c.owner == rep).values(team=team))
        deltas: dict[Key, list[Any]] = defaultdict(lambda: [0, _ZERO, 0, _ZERO])
        for deal_id in sorted(self.deals):
            deal = self.deals[deal_id]
            uuid = self.rep_names.get(deal.owner)
            deal.team = None if uuid is None else self.reps[uuid]["team"]
            for sign, contrib in ((-1, self.before[deal_id]),
                                  (1, contributions(deal, self._wf(deal)))):
                for key, (n, amount, cancelled, cancelled_amount) in contrib.items():
                    acc = deltas[key]
                    acc[0] += sign * n
                    acc[1] += sign * amount
                    acc[2] += sign * cancelled
                    acc[3] += sign * cancelled_amount
        upsert(conn, t.deals, [self.deals[k].to_row() for k in sorted(self.deals)],
               ["deal_id"], raw_instants=True)
        upsert(conn, t.stays, [self.dirty_stays[k] for k in sorted(self.dirty_stays)],
               ["deal_id", "seq"], raw_instants=True)
        self.write_appended()
        upsert(conn, t.reps, [self.reps[k] for k in sorted(self.dirty_reps)], ["rep_uuid"])
        self._write_stages()
        self._apply_deltas(deltas)
        add_counts(conn, t.stage_times, ("workflow", "stage", "bucket"), "stays",
                   [(*key, n) for key, n in sorted(self.stage_times.items())])
        self.stage_times.clear()
        if self.occurred is not None and self.recorded is not None:
            self._write_watermark(self.occurred, self.recorded)

    def _write_stages(self) -> None:
        rows = []
        for name, version in sorted(self.workflow_versions):
            wf = self.workflows.get(name, version)
            rows += [{"workflow": name, "workflow_version": version, "stage": stage,
                      "ordinal": i, "probability": wf.probability(stage),
                      "kind": _kind(wf, stage)} for i, stage in enumerate(wf.stages)]
        upsert(self.conn, self.t.stages, rows, ["workflow", "workflow_version", "stage"])

    def _write_watermark(self, occurred: datetime, recorded: datetime) -> None:
        t = self.t.watermark
        row = self.conn.execute(select(t).where(t.c.id == 1)).first()
        if row is not None:
            occurred, recorded = max(occurred, row.occurred_at), max(recorded, row.recorded_at)
        upsert(self.conn, t, [{"id": 1, "occurred_at": occurred, "recorded_at": recorded}],
               ["id"])

    def _apply_deltas(self, deltas: dict[Key, list[Any]]) -> None:
        for name, keys in _KEYS.items():
            table = getattr(self.t, name)
            mine = {k: v for (n, k), v in deltas.items() if n == name and any(v)}
            if not mine:
                continue
            lookup = _LOOKUP[name]
            at = keys.index(lookup)
            current = {
                key: found
                for found in read_rows(self.conn, table, lookup, {k[at] for k in mine})
                if (key := tuple(found[k] for k in keys)) in mine
            }
            rows: list[dict[str, Any]] = []
            for key in sorted(mine):
                delta = mine[key]
                row: dict[str, Any] = current.get(key) or {
                    **dict(zip(keys, key, strict=True)), "deals": 0, "amount": _ZERO,
                    **({"cancelled_deals": 0, "cancelled_amount": _ZERO}
                       if name == "totals" else {})}
                row["deals"] += delta[0]
                row["amount"] += delta[1]
                if name == "totals":
                    row["cancelled_deals"] += delta[2]
                    row["cancelled_amount"] += delta[3]
                rows.append(row)
            upsert(self.conn, table, rows, keys)
            # A row no deal counts in any more goes (its amounts are then zero too).
            empty = table.c.deals == 0
            if name == "totals":
                empty = and_(empty, table.c.cancelled_deals == 0)
            self.conn.execute(delete(table).where(empty))


# Functions, not bound methods kept on the batch: a batch holding its own bound methods is a
# reference cycle, which a rebuild (collecting only young objects between batches) would
# keep alive with every deal it held.
_HANDLERS: dict[type[Any], Callable[[PipelineBatch, LoggedEvent, Any], None]] = {
    Deal.Opened: PipelineBatch._opened, Deal.StageChanged: PipelineBatch._advanced,
    Deal.ContractSigned: PipelineBatch._signed, Deal.Lost: PipelineBatch._lost,
    Deal.Reopened: PipelineBatch._reopened, Deal.QuoteIssued: PipelineBatch._amount,
    Deal.AmountChanged: PipelineBatch._amount, Deal.Reassigned: PipelineBatch._reassigned,
    Deal.Routed: PipelineBatch._reassigned,
    Deal.ContractCancelled: PipelineBatch._cancelled, Rep.Registered: PipelineBatch._registered,
    Rep.QuotaSet: PipelineBatch._quota_set,
}
