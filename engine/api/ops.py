"""Operations: liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.concurrency import run_in_threadpool

from engine.api.auth import Permission, require
from engine.api.common import ServiceDep
from engine.api.errors import problems
from engine.api.schemas import HealthStatus, ReadyStatus

__all__ = ["ops_router"]

_METRICS_DOC: dict[int | str, dict[str, Any]] = {200: {
    "description": "Prometheus text exposition format",
    "content": {"text/plain": {"schema": {"type": "string"}}}}}


def ops_router(metrics_auth: bool) -> APIRouter:
    """Health, readiness and metrics; ``metrics_auth`` makes /metrics need a token."""
    router = APIRouter(tags=["operations"])

    @router.get("/healthz", response_model=HealthStatus, summary="Liveness (no token)")
    async def healthz() -> HealthStatus:
        """The process is up and answering."""
        return HealthStatus(status="ok", detail="serving")

    @router.get("/readyz", response_model=ReadyStatus, summary="Readiness (no token)",
                responses={503: {"model": ReadyStatus, "description": "Not ready"}})
    async def readyz(service: ServiceDep) -> Any:
        """Ready when the store answers and the views have caught up with the log."""
        state = await run_in_threadpool(service.readiness)
        body = ReadyStatus(ready=state.ready, head=state.head, views=state.views,
                           max_lag=service.settings.ready_max_lag, detail=state.detail)
        return JSONResponse(body.model_dump(), status_code=200 if state.ready else 503)

    def scrape(service: ServiceDep) -> Response:
        """Every dealflow metric, in the Prometheus text format."""
        data = generate_latest(service.metrics.registry)
        return Response(content=data, media_type=CONTENT_TYPE_LATEST)

    if metrics_auth:
        @router.get("/metrics", response_class=Response, summary="Prometheus metrics",
                    responses={**_METRICS_DOC, **problems(401, 403)})
        def metrics(service: ServiceDep,
                    _: Annotated[object, Depends(require(Permission.METRICS))]) -> Response:
            """Every dealflow metric, in the Prometheus text format (viewer token)."""
            return scrape(service)
    else:
        @router.get("/metrics", response_class=Response, summary="Prometheus metrics",
                    responses=_METRICS_DOC)
        def metrics_open(request: Request, service: ServiceDep) -> Response:
            """Every dealflow metric, in the Prometheus text format (no token)."""
            return scrape(service)

    return router
