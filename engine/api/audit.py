"""Auditor routes: stored rejections, the event log export, rebuilding views (replay); and
the views' status for viewers."""

# No ``from __future__ import annotations``: FastAPI must evaluate the route annotations,
# which refer to page limits local to the router factories.

import base64
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from starlette.concurrency import run_in_threadpool

from engine.api.auth import Permission, require
from engine.api.common import PRINTABLE, Cursor, ServiceDep, decode_cursor, encode_cursor
from engine.api.encode import event_fields
from engine.api.errors import ApiError, problems
from engine.api.schemas import (
    LogEvent,
    LogPage,
    Rejection,
    RejectionCounts,
    RejectionPage,
    ViewsStatus,
    ViewStatus,
)
from engine.errors import StoreError
from engine.serve.service import Service
from engine.store.rows import RejectionRow

__all__ = ["audit_router"]


def _rejection(row: RejectionRow) -> Rejection:
    return Rejection(seq=row.seq, recorded_at=row.recorded_at, origin=row.origin,
                     reason=row.reason, field=row.field, message=row.message,
                     source=row.source, fact_id=row.fact_id, fact_type=row.fact_type,
                     subject=row.subject, raw=row.raw.decode(errors="replace"),
                     raw_base64=base64.b64encode(row.raw).decode())


def _log(service: Service, after: int, limit: int) -> LogPage:
    app = service.engine.app
    head = int(app.recorder.max_notification_id() or 0)
    found = app.recorder.select_notifications(start=after + 1, limit=limit)
    items = []
    for n in found:
        event: Any = app.mapper.to_domain_event(n)
        occurred = getattr(event, "occurred_at", None)
        items.append(LogEvent(
            position=n.id, aggregate_id=str(n.originator_id), version=n.originator_version,
            type=n.topic, occurred_at=None if occurred is None else occurred.isoformat(),
            recorded_at=event.timestamp.isoformat(), fields=event_fields(event)))
    more = len(items) == limit and items[-1].position < head
    return LogPage(head=head, items=items,
                   next_cursor=encode_cursor(items[-1].position) if more else None)


def _views(service: Service) -> ViewsStatus:
    head, positions = service.head(), service.positions()
    return ViewsStatus(head=head, views=[ViewStatus(name=n, position=p, lag=max(0, head - p))
                                         for n, p in sorted(positions.items())])


def audit_router(page_max: int) -> APIRouter:
    """The routes (page limits from settings)."""
    router = APIRouter()
    Limit = Annotated[int, Query(ge=1, le=page_max)]

    @router.get("/v1/rejections", response_model=RejectionPage, tags=["audit"],
                responses=problems(400, 401, 403, 422),
                summary="Stored rejected inputs (auditors)")
    async def rejections(
        service: ServiceDep, _: Annotated[object, Depends(require(Permission.REJECTIONS))],
        reason: Annotated[str | None, Query(max_length=200, pattern=PRINTABLE,
                                            description="Only this reason code.")] = None,
        cursor: Cursor = None, limit: Limit = 100,
    ) -> RejectionPage:
        """Rejections in arrival order, with their original bytes, reason and time."""
        after = decode_cursor(cursor)
        rows = await run_in_threadpool(
            service.engine.app.store.select_rejections, limit=limit + 1, after=after,
            reason=reason)
        items = [_rejection(r) for r in rows[:limit]]
        more = len(rows) > limit
        return RejectionPage(items=items,
                             next_cursor=encode_cursor(items[-1].seq) if more else None)

    @router.get("/v1/rejections/counts", response_model=RejectionCounts, tags=["audit"],
                responses=problems(401, 403), summary="Rejections per reason (auditors)")
    async def rejection_counts(
        service: ServiceDep, _: Annotated[object, Depends(require(Permission.REJECTIONS))],
    ) -> RejectionCounts:
        """How many rejections are stored, per reason."""
        counts = await run_in_threadpool(service.engine.app.store.rejection_counts)
        return RejectionCounts(total=sum(counts.values()), by_reason=dict(sorted(
            counts.items())))

    @router.get("/v1/log", response_model=LogPage, tags=["audit"],
                responses=problems(400, 401, 403, 422),
                summary="Export the event log (auditors)")
    async def export_log(
        service: ServiceDep, _: Annotated[object, Depends(require(Permission.EXPORT))],
        cursor: Cursor = None, limit: Limit = 100,
    ) -> LogPage:
        """Every event in log order with its position, aggregate, version and fields."""
        after = decode_cursor(cursor)
        return await run_in_threadpool(_log, service, after, limit)

    @router.get("/v1/views", response_model=ViewsStatus, tags=["views"],
                responses=problems(401, 403), summary="Each view's position and lag")
    async def views(service: ServiceDep,
                    _: Annotated[object, Depends(require(Permission.VIEWS))]) -> ViewsStatus:
        """The log head and how far each view has applied it."""
        return await run_in_threadpool(_views, service)

    @router.post("/v1/views/rebuild", response_model=ViewsStatus, tags=["views"],
                 responses=problems(401, 403, 404, 422, 503),
                 summary="Rebuild views from the log (auditors)")
    async def rebuild(
        service: ServiceDep, _: Annotated[object, Depends(require(Permission.REPLAY))],
        view: Annotated[list[str] | None, Query(description="Views to rebuild (default: "
                                                "all).")] = None,
    ) -> ViewsStatus:
        """Replay the log from position zero into fresh tables and swap them in; reads
        wait for the swap. Answers when done, with the views' positions."""
        known = set(service.runner.live)
        unknown = sorted(set(view or ()) - known)
        if unknown:
            raise ApiError(404, "not_found", f"unknown view(s) {', '.join(unknown)}; known: "
                           f"{', '.join(sorted(known)) or 'none'}")
        try:
            await run_in_threadpool(service.rebuild, view)
        except StoreError as exc:
            raise ApiError(503, "unavailable", str(exc), headers={"Retry-After": "5"}
                           ) from exc
        return await run_in_threadpool(_views, service)

    return router
