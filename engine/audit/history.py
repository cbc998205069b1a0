"""``dealflow audit history DEAL``: everything that happened to one deal, and why.

Every fact about the deal in the order dealflow decided it, with both times (when it
happened, when it was recorded), its source, id and actor, and the decision: accepted (and
the transition it made, or the stage it left unchanged) or refused (the rule or field and
the message, from the rejections store). A refusal is recorded when it is decided, as an
accepted fact's event is, so it follows the facts decided before it (the ``deal.opened`` it
was judged against); at the same instant, accepted events come first. Beside them the
derived changes: the SLA timer's escalations of the deal and the commission lines the deal
earned. Each accepted event also shows whether it still matches the audit chain.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import SQLAlchemyError

from engine.audit.chain import ChainStore
from engine.audit.commission import CommissionLine
from engine.audit.decode import logged_events
from engine.audit.log import EventLog, LogRow
from engine.audit.record import entry_hash, record_header
from engine.domain.deal import Deal
from engine.domain.ids import deal_id
from engine.errors import DealflowError
from engine.store.app import DealflowApplication
from engine.store.log import LoggedEvent

__all__ = ["CommissionLine", "DealHistory", "HistoryEntry", "deal_history"]

_EARLIEST = datetime.min.replace(tzinfo=UTC)
_NO_TIME = timedelta(0)
_FACT_TYPES: dict[type[Any], str] = {
    Deal.Opened: "deal.opened", Deal.StageChanged: "deal.stage_changed",
    Deal.ActivityLogged: "activity.logged", Deal.QuoteIssued: "quote.issued",
    Deal.AmountChanged: "deal.amount_changed", Deal.ContractSigned: "contract.signed",
    Deal.Lost: "deal.lost", Deal.Reopened: "deal.reopened", Deal.Reassigned: "deal.reassigned",
    Deal.PaymentReceived: "payment.received", Deal.ContractCancelled: "contract.cancelled",
    Deal.SurveyResponded: "survey.responded",
}


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One fact about the deal (accepted or refused) or one derived SLA change."""

    recorded_at: datetime | None
    occurred_at: datetime | None
    fact_type: str
    source: str | None
    fact_id: str | None
    actor: str | None
    decision: str  # accepted, refused, derived, undecodable
    detail: str
    position: int | None = None
    chain: str | None = None
    rejection: int | None = None  # the refusal's sequence number in the rejections store


@dataclass
class DealHistory:
    """The history of one deal."""

    deal: str
    deal_id: str
    entries: list[HistoryEntry] = field(default_factory=list)
    commission: list[CommissionLine] | None = None
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """JSON-ready (times as RFC 3339)."""
        def entry(e: HistoryEntry) -> dict[str, Any]:
            out = asdict(e)
            out["recorded_at"] = e.recorded_at.isoformat() if e.recorded_at else None
            out["occurred_at"] = e.occurred_at.isoformat() if e.occurred_at else None
            return out

        return {"deal": self.deal, "deal_id": self.deal_id,
                "entries": [entry(e) for e in self.entries],
                "commission_lines": None if self.commission is None
                else [asdict(c) for c in self.commission],
                "notes": self.notes}


Sorted = tuple[datetime, HistoryEntry]
#: Reason codes that are not a workflow rule's name (see engine.errors).
_NOT_RULES = frozenset({"conflict", "unprocessable", "rejected", "invalid", "rule"})
CommissionSource = Callable[[str], list[CommissionLine] | None]


def deal_history(app: DealflowApplication, engine: Engine, subject: str, *,
                 commission: CommissionSource | None = None) -> DealHistory:
    """The history of the deal ``subject`` (read through ``engine``, on the store's
    database); ``commission`` gives its commission lines (by deal id) when the commission
    view is available."""
    log, chain = EventLog(app, engine), ChainStore(engine)
    uuid = deal_id(subject)
    history = DealHistory(subject, str(uuid))
    with engine.connect() as conn:
        rows = log.events_of(conn, uuid.hex)
        chained = {row.position: _chain_status(conn, chain, row) for row in rows}
        entries = _accepted(_decoded(app, rows), chained)
        entries.extend(_refused(conn, subject))
        sla_rows = log.with_topic_prefix(conn, "dealflow.sla.")
        sla = [(row, e) for row, e in _decoded(app, sla_rows) if e is not None and
               str(getattr(e.event, "deal", "")) in (subject, str(uuid), uuid.hex)]
        entries.extend(_derived(sla, {r.position: _chain_status(conn, chain, r)
                                      for r, _ in sla}))
    entries.sort(key=_order)
    history.entries = [entry for _, entry in entries]
    if not rows:
        history.notes.append(f"no accepted fact opened a deal {subject!r}")
    if commission is not None:
        try:
            history.commission = commission(str(uuid))
        except (DealflowError, SQLAlchemyError) as exc:
            history.notes.append(f"commission lines unavailable: {exc.__class__.__name__}: "
                                 f"{str(exc).splitlines()[0]} (try `dealflow rebuild "
                                 "commissions`)")
    return history


def _order(pair: Sorted) -> tuple[datetime, int, int]:
    """By decision time; at one instant the log's events (by position), then refusals (by
    rejection number)."""
    when, entry = pair
    if entry.rejection is not None:
        return (when, 1, entry.rejection)
    return (when, 0, entry.position or 0)


def _decoded(app: DealflowApplication, rows: list[LogRow]
             ) -> list[tuple[LogRow, LoggedEvent | None]]:
    """Each row decoded, or ``None`` when its bytes no longer decode (tampered)."""
    found: list[tuple[LogRow, LoggedEvent | None]] = []
    for row in rows:
        try:
            event = logged_events(app.mapper, [row])[0]
            _ = (event.recorded_at + _NO_TIME, event.occurred_at + _NO_TIME)
        except Exception:  # any decoding failure: the row is shown as undecodable
            found.append((row, None))
        else:
            found.append((row, event))
    return found


def _chain_status(conn: Connection, chain: ChainStore, row: LogRow) -> str:
    stored = chain.row_at(conn, row.position)
    if stored is None:
        return "not chained yet"
    header = record_header(row.position, row.originator_id, row.originator_version, row.topic)
    if entry_hash(chain.entry_before(conn, row.position), header, row.state) != stored[4]:
        return "DIFFERS from the chain"
    return f"chained #{stored[1]}"


def _accepted(decoded: list[tuple[LogRow, LoggedEvent | None]],
              chained: dict[int, str]) -> list[Sorted]:
    """The deal's events; one that no longer decodes sorts where its neighbour does."""
    entries: list[Sorted] = []
    stage, last = "?", _EARLIEST
    for row, e in decoded:
        if e is None:
            entries.append((last, HistoryEntry(
                None, None, row.topic, None, None, None, "undecodable",
                f"version {row.originator_version}: its stored bytes no longer decode",
                row.position, chained.get(row.position))))
            continue
        ev = e.event
        fact_type = str(_FACT_TYPES.get(type(ev)) or getattr(ev, "fact_type", e.topic))
        if isinstance(ev, Deal.Opened):
            detail = f"opened in {ev.stage} (workflow {ev.workflow} v{ev.workflow_version})"
            stage = ev.stage
        elif isinstance(ev, Deal.StageChanged | Deal.ContractSigned):
            verb = "advance" if isinstance(ev, Deal.StageChanged) else "sign"
            detail = f"transition {verb}: {ev.from_stage} -> {ev.to_stage}"
            stage = ev.to_stage
        elif isinstance(ev, Deal.Lost):
            detail = f"transition lose: {ev.from_stage} -> lost ({ev.reason})"
            stage = "lost"
        elif isinstance(ev, Deal.Reopened):
            detail = f"transition reopen: lost -> {ev.to_stage}"
            stage = ev.to_stage
        else:
            detail = f"stage stays {stage}" + _facts_of(ev)
        last = e.recorded_at
        entries.append((last, HistoryEntry(
            e.recorded_at, e.occurred_at, fact_type, getattr(ev, "source", None),
            getattr(ev, "fact_id", None), getattr(ev, "actor", None), "accepted", detail,
            e.position, chained.get(e.position))))
    return entries


def _facts_of(ev: Any) -> str:
    parts = [f"{name}={getattr(ev, name)}" for name in
             ("kind", "purpose", "amount", "currency", "owner", "score", "reason")
             if getattr(ev, name, None) is not None]
    return f"; {', '.join(parts)}" if parts else ""


def _refused(conn: Connection, subject: str) -> list[Sorted]:
    rows = conn.execute(text(
        "SELECT seq, recorded_at, reason, field, message, source, fact_id, fact_type, raw "
        "FROM dealflow_rejections WHERE subject = :subject ORDER BY seq"), {"subject": subject})
    entries: list[Sorted] = []
    for row in rows:
        raw = _json(bytes(row.raw))
        recorded = datetime.fromisoformat(row.recorded_at)
        entries.append((recorded, HistoryEntry(
            recorded, _time(raw.get("time")),
            str(row.fact_type or raw.get("type") or "?"), row.source, row.fact_id,
            raw.get("actor") if isinstance(raw.get("actor"), str) else None,
            "refused", f"{_why(row.reason, row.field, row.message)} (rejection #{row.seq})",
            rejection=int(row.seq))))
    return entries


def _why(reason: str, field: str | None, message: str) -> str:
    """``rule stage_jump: <message>`` or ``field data.amount: <message>``, naming the rule
    or field once (the stored message starts with it too)."""
    if reason.startswith("invalid:") and field is not None:
        label, name = "field", field
    else:
        label, name = ("rule" if reason not in _NOT_RULES else ""), reason
    return f"{label} {name}".strip() + ": " + message.removeprefix(f"{name}: ")


def _derived(events: list[tuple[LogRow, LoggedEvent]], chained: dict[int, str]
             ) -> list[Sorted]:
    entries: list[Sorted] = []
    for _, e in events:
        ev = e.event
        kind = e.topic.removeprefix("dealflow.")
        detail = f"{getattr(ev, 'rule', '?')} ({getattr(ev, 'instance', '?')})"
        if getattr(ev, "outcome", None):
            detail += f": {ev.outcome}"
        if getattr(ev, "due_at", None) is not None:
            detail += f", due {ev.due_at.isoformat()}"
        entries.append((e.recorded_at, HistoryEntry(
            e.recorded_at, e.occurred_at, kind, "sla-timer", None, None, "derived", detail,
            e.position, chained.get(e.position))))
    return entries


def _json(raw: bytes) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
