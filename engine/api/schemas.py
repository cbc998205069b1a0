"""Request and response bodies of the HTTP API (the OpenAPI document is built from these)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel, field_validator

from engine.serve.tokens import Role

__all__ = [
    "DealHistoryPage", "DealState", "FactOutcome", "FactResult", "HealthStatus",
    "HistoryEvent", "IngestResult", "LogEvent", "LogPage", "Problem", "ReadyStatus",
    "RejectedOrInvalid", "Rejection", "RejectionCounts", "RejectionPage", "ReportIndex",
    "ReportPage", "ReportSection", "ReportSummary", "TokenCreate", "TokenCreated",
    "TokenInfoOut", "TokenPage", "ViewStatus", "ViewsStatus",
]


class Problem(BaseModel):
    """An error: a stable machine-readable ``error`` code and a human ``detail``."""

    error: str = Field(description="Stable code: unauthenticated, forbidden, not_found, "
                       "invalid_request, invalid_cursor, too_large, unavailable, ...")
    detail: str
    errors: list[dict[str, Any]] | None = Field(
        default=None, description="Per-parameter problems (invalid_request only).")


class FactOutcome(BaseModel):
    """What happened to one input of a request."""

    index: int = Field(description="The input's place in the request, from 0.")
    status: Literal["accepted", "duplicate", "rejected"]
    source: str | None = None
    id: str | None = None
    type: str | None = None
    reason: str | None = Field(default=None, description="Rejections: the stored reason "
                               "code, e.g. invalid:data.amount or stage_jump.")
    field: str | None = Field(default=None, description="Rejections: the offending field.")
    message: str | None = None


class _Written(BaseModel):
    position: int = Field(
        description="Log position covering this request's effects: the last event it "
        "appended, or the log head when it appended none. Pass it as min_position to "
        "any read for read-your-writes.")
    visible: bool | None = Field(
        default=None, description="With wait=true: whether the views reached position "
        "within the wait limit (null when not asked).")


class FactResult(_Written):
    """The outcome of posting one fact."""

    outcome: FactOutcome


class RejectedOrInvalid(RootModel[FactResult | Problem]):
    """422: the fact was rejected (and stored), or the request itself was malformed."""


class IngestResult(_Written):
    """Per-input outcomes of a batch, in request order, and the counts."""

    inputs: int
    accepted: int
    duplicates: int
    rejected: int
    events: int = Field(description="Events the storing transaction appended to the log "
                        "(concurrent requests may share one transaction: group commit).")
    outcomes: list[FactOutcome]


class Split(BaseModel):
    """A rep's share of a deal's credit."""

    model_config = ConfigDict(extra="allow")
    rep: str
    share: str


class DealState(BaseModel):
    """A deal's current state, from the event log (always up to date)."""

    subject: str
    deal_id: str
    version: int = Field(description="Events recorded for the deal.")
    workflow: str
    workflow_version: int
    stage: str
    lost_from: str | None
    account: str
    owner: str | None = Field(description="None: no owner (opened unassigned by routing).")
    amount: str
    currency: str
    expected_close: str | None
    segment: str | None
    territory: str | None = None
    partner: str | None
    splits: list[Split] | None
    cancelled: bool
    signed_amount: str | None
    signed_at: str | None
    opened_at: str
    facts_seen: list[str] = Field(description="Fact kinds seen so far (exit criteria).")
    recorded_at: str = Field(description="When the deal's last event was recorded.")


class DealSla(BaseModel):
    """Every SLA rule instance of one deal as of a time (from the SLA view)."""

    subject: str
    deal_id: str
    as_of: str
    known_at: str | None
    position: int = Field(description="The SLA view's log position the answer reflects.")
    instances: list[dict[str, Any]] = Field(
        description="Rule, instance, started_at, due_at, outcome, ended_at, cancelled_at, "
        "escalation (as `report sla --deal`).")


class HistoryEvent(BaseModel):
    """One event of a deal's history."""

    version: int
    type: str = Field(description="The event's stored name, e.g. dealflow.deal.opened.")
    occurred_at: str | None = Field(description="When it happened (the fact's time).")
    recorded_at: str = Field(description="When dealflow recorded it.")
    source: str | None
    fact_id: str | None
    actor: str | None
    fields: dict[str, Any]


class _Page(BaseModel):
    next_cursor: str | None = Field(description="Pass as cursor for the next page; null "
                                    "on the last page.")


class DealHistoryPage(_Page):
    """A page of a deal's events, oldest first."""

    subject: str
    deal_id: str
    items: list[HistoryEvent]


class LogEvent(BaseModel):
    """One event of the log, in log order (export)."""

    position: int
    aggregate_id: str
    version: int
    type: str
    occurred_at: str | None
    recorded_at: str
    fields: dict[str, Any]


class LogPage(_Page):
    """A page of the event log."""

    head: int
    items: list[LogEvent]


class Rejection(BaseModel):
    """A stored rejected input."""

    seq: int
    recorded_at: str
    origin: str
    reason: str
    field: str | None
    message: str
    source: str | None
    fact_id: str | None
    fact_type: str | None
    subject: str | None
    raw: str = Field(description="The original bytes as UTF-8 (undecodable bytes "
                     "replaced); raw_base64 has them exactly.")
    raw_base64: str


class RejectionPage(_Page):
    """A page of stored rejections, in arrival order."""

    items: list[Rejection]


class RejectionCounts(BaseModel):
    """How many rejections are stored, in all and per reason."""

    total: int
    by_reason: dict[str, int]


class ReportSection(BaseModel):
    """A list inside a report, read page by page at ``href``."""

    name: str
    items: int
    href: str


class ReportSummary(BaseModel):
    """A report's scalar fields and its lists (sections)."""

    report: str
    as_of: str
    known_at: str | None
    position: int = Field(description="The view's log position the report was computed at.")
    computed_at: str
    fields: dict[str, Any]
    sections: list[ReportSection]


class ReportPage(_Page):
    """A page of one list of a report."""

    report: str
    section: str
    as_of: str
    known_at: str | None
    position: int
    computed_at: str
    total: int
    items: list[Any]


class ReportIndex(_Page):
    """The reports this server offers."""

    items: list[dict[str, str]]


class ViewStatus(BaseModel):
    """One view's progress through the log."""

    name: str
    position: int
    lag: int


class ViewsStatus(BaseModel):
    """The log head and every view's position."""

    head: int
    views: list[ViewStatus]


class HealthStatus(BaseModel):
    """Liveness."""

    status: Literal["ok", "failing"]
    detail: str


class ReadyStatus(BaseModel):
    """Readiness: the store answers and the views have caught up."""

    ready: bool
    head: int | None
    views: dict[str, int]
    max_lag: int
    detail: str


class TokenCreate(BaseModel):
    """A token to create."""

    role: Role
    name: str = Field(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$",
                      description="Who or what uses it; no control characters.")

    @field_validator("name")
    @classmethod
    def _encodable(cls, value: str) -> str:
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("not valid Unicode text (lone surrogate)") from None
        return value


class TokenInfoOut(BaseModel):
    """A token, without its secret."""

    token_id: str
    name: str
    role: Role
    created_at: str
    revoked_at: str | None


class TokenCreated(TokenInfoOut):
    """A new token; ``token`` is shown this once and is not stored."""

    token: str


class TokenPage(_Page):
    """A page of tokens."""

    items: list[TokenInfoOut]
