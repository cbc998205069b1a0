"""Reports over HTTP: every registered report (pipeline, SLA, commissions, KPIs, ...).

For a report ``R``: ``GET /v1/R`` gives its scalar fields and the lists it holds (its
sections), ``GET /v1/R/{section}`` one page of a list (``/v1/sla/overdue``,
``/v1/sla/breaches``, ``/v1/commissions/statements``, ...). Both take ``as_of`` (default
now: "overdue now"), ``known_at`` (as dealflow knew it then), the report's own options
(e.g. ``period``, ``rep``) and ``min_position`` for read-your-writes.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from datetime import datetime, time, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

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
from engine.api.errors import ApiError, problems
from engine.api.schemas import ReportIndex, ReportPage, ReportSection, ReportSummary
from engine.contract.values import parse_timestamp
from engine.errors import NotFoundError, ReportOptionError
from engine.serve.reports import ComputedReport, ReportOption, report_options
from engine.serve.service import Service
from projections.registry import REPORTS

__all__ = ["RESERVED", "parse_moment", "reports_router"]

#: Path segments taken by other routes: a report with one of these names is served under
#: ``/v1/reports/{name}`` only.
RESERVED = frozenset({"facts", "deals", "rejections", "log", "views", "tokens", "reports"})
REPORT_ZONE = ZoneInfo("Asia/Shanghai")
AsOf = Annotated[str | None, Query(
    description="Count what happened by this time: RFC 3339 with offset, or a date "
    "(the end of that day in Asia/Shanghai). Default: now.", max_length=64)]
KnownAt = Annotated[str | None, Query(
    description="Use only what dealflow had recorded by this time (reproduce a report as "
    "it was printed then).", max_length=64)]


def parse_moment(value: str | None, name: str) -> datetime | None:
    """An RFC 3339 timestamp, or a date meaning the end of that day in Asia/Shanghai."""
    if value is None:
        return None
    try:
        if len(value) == 10:
            day = datetime.strptime(value, "%Y-%m-%d").date()
            return (datetime.combine(day + timedelta(days=1), time(), REPORT_ZONE)
                    - timedelta(microseconds=1))
        return parse_timestamp(value)
    except (ValueError, OverflowError):
        raise ApiError(422, "invalid_request", f"{name}: {value!r} is not an RFC 3339 "
                       "timestamp with offset or a date YYYY-MM-DD") from None


async def _compute(service: Service, name: str, as_of: str | None, known_at: str | None,
                   min_position: int | None, options: dict[str, Any]) -> ComputedReport:
    await ensure_position(service, min_position)
    when, known = parse_moment(as_of, "as_of"), parse_moment(known_at, "known_at")
    chosen = {k: v for k, v in options.items() if v is not None}
    try:
        return await run_in_threadpool(lambda: service.reports.compute(
            name, as_of=when, known_at=known, options=chosen, min_position=min_position or 0))
    except NotFoundError as exc:
        raise ApiError(404, "not_found", str(exc)) from None
    except ReportOptionError as exc:
        raise ApiError(422, "invalid_request", str(exc)) from None


def _base(report: ComputedReport) -> dict[str, Any]:
    return {"report": report.name, "as_of": report.as_of.isoformat(),
            "known_at": None if report.known_at is None else report.known_at.isoformat(),
            "position": report.position, "computed_at": report.computed_at.isoformat()}


def _signature(options: list[ReportOption], extra: list[inspect.Parameter]
               ) -> inspect.Signature:
    params = [
        inspect.Parameter("service", inspect.Parameter.KEYWORD_ONLY, annotation=ServiceDep),
        inspect.Parameter("auth", inspect.Parameter.KEYWORD_ONLY, annotation=Annotated[
            object, Depends(require(Permission.VIEWS))]),
        *extra,
        inspect.Parameter("as_of", inspect.Parameter.KEYWORD_ONLY, default=None,
                          annotation=AsOf),
        inspect.Parameter("known_at", inspect.Parameter.KEYWORD_ONLY, default=None,
                          annotation=KnownAt),
        inspect.Parameter("min_position", inspect.Parameter.KEYWORD_ONLY, default=None,
                          annotation=MinPosition),
    ]
    for option in options:
        if option.moment:
            annotation: Any = Annotated[str | None, Query(
                alias=option.query, max_length=64, description=f"Report option "
                f"{option.query!r}: RFC 3339 with offset, or a date (the end of that day in "
                "Asia/Shanghai).")]
        else:
            annotation = Annotated[option.annotation | None, Query(
                alias=option.query, description=f"Report option {option.query!r} "
                f"(default: {option.default!r}).")]
        params.append(inspect.Parameter(
            f"opt_{option.name}", inspect.Parameter.KEYWORD_ONLY, default=None,
            annotation=annotation))
    return inspect.Signature(params)


def _options(kwargs: dict[str, Any], options: list[ReportOption]) -> dict[str, Any]:
    """The builder's keywords from the query (instants parsed as ``as_of`` is)."""
    moments = {o.name: o.query for o in options if o.moment}
    return {k[4:]: parse_moment(v, moments[k[4:]]) if k[4:] in moments else v
            for k, v in kwargs.items() if k.startswith("opt_")}


def _summary_endpoint(name: str, options: list[ReportOption],
                      prefix: str) -> Callable[..., Any]:
    async def endpoint(**kwargs: Any) -> ReportSummary:
        report = await _compute(kwargs["service"], name, kwargs["as_of"], kwargs["known_at"],
                                kwargs["min_position"], _options(kwargs, options))
        content = report.content
        return ReportSummary(
            **_base(report),
            fields={k: v for k, v in content.items() if not isinstance(v, list)},
            sections=[ReportSection(name=k, items=len(v), href=f"{prefix}/{k}")
                      for k, v in content.items() if isinstance(v, list)])

    endpoint.__signature__ = _signature(options, [])  # type: ignore[attr-defined]
    endpoint.__name__ = f"report_{name}"
    endpoint.__doc__ = f"Report {name!r}: its fields and its lists (sections)."
    return endpoint


def _section_endpoint(name: str, options: list[ReportOption],
                      page_max: int) -> Callable[..., Any]:
    async def endpoint(**kwargs: Any) -> ReportPage:
        section, limit = kwargs["section"], kwargs["limit"]
        offset = decode_cursor(kwargs["cursor"])
        report = await _compute(kwargs["service"], name, kwargs["as_of"], kwargs["known_at"],
                                kwargs["min_position"], _options(kwargs, options))
        items = report.content.get(section)
        if not isinstance(items, list):
            lists = [k for k, v in report.content.items() if isinstance(v, list)]
            raise ApiError(404, "not_found", f"report {name!r} has no list {section!r}; "
                           f"it has {', '.join(lists) or 'none'}")
        page = items[offset:offset + limit]
        more = offset + limit < len(items)
        return ReportPage(**_base(report), section=section, total=len(items), items=page,
                          next_cursor=encode_cursor(offset + limit) if more else None)

    extra = [
        inspect.Parameter("section", inspect.Parameter.KEYWORD_ONLY, annotation=Annotated[
            str, Path(description="A list of the report (see its sections).",
                      max_length=100)]),
        inspect.Parameter("cursor", inspect.Parameter.KEYWORD_ONLY, default=None,
                          annotation=Cursor),
        inspect.Parameter("limit", inspect.Parameter.KEYWORD_ONLY, default=100,
                          annotation=Annotated[int, Query(ge=1, le=page_max)]),
    ]
    endpoint.__signature__ = _signature(options, extra)  # type: ignore[attr-defined]
    endpoint.__name__ = f"report_{name}_section"
    endpoint.__doc__ = f"One page of a list of report {name!r}."
    return endpoint


def reports_router(page_max: int) -> APIRouter:
    """Routes for every report registered now, and the index of reports."""
    router = APIRouter(tags=["reports"])
    names = sorted(REPORTS)

    @router.get("/v1/reports", response_model=ReportIndex, responses=problems(401, 403),
                summary="The reports this server offers")
    async def index(_: Annotated[object, Depends(require(Permission.VIEWS))]) -> ReportIndex:
        """Each report's name, the view it reads and where to get it."""
        return ReportIndex(next_cursor=None, items=[
            {"name": n, "view": REPORTS[n][0],
             "href": f"/v1/{n}" if n not in RESERVED else f"/v1/reports/{n}"} for n in names])

    for name in names:
        options = report_options(REPORTS[name][1])
        prefix = f"/v1/{name}" if name not in RESERVED else f"/v1/reports/{name}"
        router.add_api_route(
            prefix, _summary_endpoint(name, options, prefix), methods=["GET"],
            response_model=ReportSummary, summary=f"Report {name}",
            responses=problems(400, 401, 403, 404, 422, 503))
        router.add_api_route(
            f"{prefix}/{{section}}", _section_endpoint(name, options, page_max),
            methods=["GET"], response_model=ReportPage, summary=f"Report {name}: a list",
            responses=problems(400, 401, 403, 404, 422, 503))
    return router
