"""The FastAPI application factory: one app per :class:`engine.serve.Service`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from engine.api.admin import tokens_router
from engine.api.audit import audit_router
from engine.api.deals import history_route
from engine.api.deals import router as deals_router
from engine.api.errors import install_handlers
from engine.api.facts import router as facts_router
from engine.api.ops import ops_router
from engine.api.reports import reports_router
from engine.metrics.http import HttpMetricsMiddleware
from engine.serve.service import Service

__all__ = ["create_app"]

DESCRIPTION = """\
dealflow's HTTP API: post sales facts (the external event contract), read deals, views and
reports, audit rejections and the log, manage API tokens.

Every route but /healthz, /readyz and this document needs `Authorization: Bearer <token>`
(`dealflow token create --role ROLE --name NAME`). Roles: `ingest` posts facts; `viewer`
reads views, deals' current state and /metrics; `auditor` also reads histories,
rejections and the log, and rebuilds views; `admin` may do everything, tokens included.

Read-your-writes: a write answers with the log `position` covering its effects; pass it as
`min_position` to a read (or post with `wait=true`) to see it in the views. Lists are
paged: pass `next_cursor` back as `cursor`.
"""


def create_app(service: Service, *, stop_on_shutdown: bool = False) -> FastAPI:
    """The API for ``service``. With ``stop_on_shutdown`` the server's shutdown stops the
    service (its views process, Kafka tasks and store), as ``dealflow serve`` needs: a
    signal ends uvicorn before any code after it runs."""
    settings = service.settings

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        if stop_on_shutdown:
            await run_in_threadpool(service.stop)

    app = FastAPI(title="dealflow", version="1", description=DESCRIPTION,
                  docs_url="/docs", redoc_url=None, openapi_url="/openapi.json",
                  lifespan=lifespan)
    app.state.service = service
    install_handlers(app)
    app.add_middleware(HttpMetricsMiddleware, metrics=service.metrics)
    page_max = settings.api_page_max
    app.include_router(facts_router)
    app.include_router(deals_router)
    app.include_router(history_route(page_max))
    app.include_router(reports_router(page_max))
    app.include_router(audit_router(page_max))
    app.include_router(tokens_router(page_max))
    app.include_router(ops_router(settings.metrics_auth))
    return app
