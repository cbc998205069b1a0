"""A deal's current state (viewers) and its full history (auditors), from the event log."""

# No ``from __future__ import annotations``: FastAPI must evaluate the route annotations,
# which refer to page limits local to the router factories.

from datetime import datetime
from typing import Annotated, Any

from eventsourcing.application import AggregateNotFoundError
from fastapi import APIRouter, Depends, Path, Query
from starlette.concurrency import run_in_threadpool

from engine.api.auth import Permission, require
from engine.api.common import (
    Cursor,
    MinPosition,
    ServiceDep,
    decode_cursor,
    encode_cursor,
    ensure_position,
)
from engine.api.encode import event_fields, jsonable
from engine.api.errors import ApiError, problems
from engine.api.reports import AsOf, KnownAt, parse_moment
from engine.api.schemas import DealHistoryPage, DealSla, DealState, HistoryEvent
from engine.domain.deal import Deal
from engine.domain.ids import deal_id
from engine.errors import NotFoundError
from engine.serve.service import Service

__all__ = ["router"]

router = APIRouter(tags=["deals"])
Subject = Annotated[str, Path(description="The deal's contract subject.", min_length=1,
                              max_length=500)]


def _state(subject: str, deal: Deal) -> DealState:
    return DealState(
        subject=subject, deal_id=str(deal.id), version=deal.version, workflow=deal.workflow,
        workflow_version=deal.workflow_version, stage=deal.stage, lost_from=deal.lost_from,
        account=deal.account, owner=deal.owner, amount=str(deal.amount),
        currency=deal.currency, expected_close=jsonable(deal.expected_close),
        segment=deal.segment, territory=deal.territory, partner=deal.partner,
        splits=jsonable(deal.splits),
        cancelled=deal.cancelled, signed_amount=jsonable(deal.signed_amount),
        signed_at=jsonable(deal.signed_at), opened_at=deal.opened_at.isoformat(),
        facts_seen=sorted(deal.seen), recorded_at=deal.modified_on.isoformat(),
    )


def _load(service: Service, subject: str) -> Deal:
    try:
        found: Any = service.engine.app.repository.get(deal_id(subject))
    except AggregateNotFoundError:
        raise ApiError(404, "not_found", f"no deal {subject!r} has been opened") from None
    if not isinstance(found, Deal):
        raise ApiError(404, "not_found", f"no deal {subject!r} has been opened")
    return found


@router.get("/v1/deals/{subject}", response_model=DealState,
            responses=problems(401, 403, 404, 422), summary="A deal's current state")
async def get_deal(subject: Subject, service: ServiceDep,
                   _: Annotated[object, Depends(require(Permission.VIEWS))]) -> DealState:
    """The deal as its events leave it now (read from the log: no view lag)."""
    deal = await run_in_threadpool(_load, service, subject)
    return _state(subject, deal)


def _sla(service: Service, subject: str, as_of: datetime | None,
         known_at: datetime | None, min_position: int) -> DealSla:
    _load(service, subject)  # 404 for a deal never opened
    try:
        report = service.reports.compute("sla", as_of=as_of, known_at=known_at,
                                         options={"deal": subject},
                                         min_position=min_position)
    except NotFoundError:  # opened, but the SLA view has not applied it yet
        raise ApiError(503, "view_behind", f"the SLA view has not applied deal {subject!r} "
                       "yet; retry shortly") from None
    content = report.content
    return DealSla(subject=subject, deal_id=str(deal_id(subject)), as_of=content["as_of"],
                   known_at=content["known_at"], position=report.position,
                   instances=content["instances"])


@router.get("/v1/deals/{subject}/sla", response_model=DealSla,
            responses=problems(400, 401, 403, 404, 422, 503),
            summary="Every SLA instance of a deal, with its outcome")
async def get_deal_sla(
    subject: Subject, service: ServiceDep,
    _: Annotated[object, Depends(require(Permission.VIEWS))],
    as_of: AsOf = None, known_at: KnownAt = None, min_position: MinPosition = None,
) -> DealSla:
    """The deal's SLA rule instances as of ``as_of`` (default now), from the SLA view:
    start, deadline, outcome, end or cancellation, escalation (as ``report sla --deal``).
    ``min_position``: read-your-writes, as on the reports."""
    when, known = parse_moment(as_of, "as_of"), parse_moment(known_at, "known_at")
    await ensure_position(service, min_position)
    return await run_in_threadpool(_sla, service, subject, when, known, min_position or 0)


def _history(service: Service, subject: str, after: int, limit: int) -> DealHistoryPage:
    app = service.engine.app
    aggregate = deal_id(subject)
    stored = app.recorder.select_events(aggregate, gt=after or None, limit=limit + 1)
    if not stored and not after:
        raise ApiError(404, "not_found", f"no deal {subject!r} has been opened")
    items = []
    for s in stored[:limit]:
        event: Any = app.mapper.to_domain_event(s)
        occurred = getattr(event, "occurred_at", None)
        items.append(HistoryEvent(
            version=s.originator_version, type=s.topic,
            occurred_at=None if occurred is None else occurred.isoformat(),
            recorded_at=event.timestamp.isoformat(), source=getattr(event, "source", None),
            fact_id=getattr(event, "fact_id", None), actor=getattr(event, "actor", None),
            fields=event_fields(event)))
    more = len(stored) > limit
    return DealHistoryPage(subject=subject, deal_id=str(aggregate), items=items,
                           next_cursor=encode_cursor(items[-1].version) if more else None)


def history_route(page_max: int) -> APIRouter:
    """The history route (its page limit comes from settings)."""
    history = APIRouter(tags=["deals"])

    @history.get("/v1/deals/{subject}/history", response_model=DealHistoryPage,
                 responses=problems(400, 401, 403, 404, 422),
                 summary="A deal's full history (auditors)")
    async def get_history(
        subject: Subject, service: ServiceDep,
        _: Annotated[object, Depends(require(Permission.HISTORY))],
        cursor: Cursor = None,
        limit: Annotated[int, Query(ge=1, le=page_max)] = 100,
    ) -> DealHistoryPage:
        """Every event of the deal, oldest first: what happened (``occurred_at``), when it
        was recorded, from which fact, and the event's fields."""
        after = decode_cursor(cursor)
        return await run_in_threadpool(_history, service, subject, after, limit)

    return history
