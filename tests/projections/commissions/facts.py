"""Builders of the contract facts commission tests need (on top of tests.engine.facts)."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from engine.bootstrap import Engine
from projections.commissions import CommissionsProjection, CommissionsReport, build_report
from projections.commissions.registry import PlanRegistry
from projections.report import ReportParams
from projections.runner import ProjectionRunner
from tests.engine.conftest import send
from tests.engine.facts import STANDARD_PATH, fact, opened

__all__ = [
    "FAR_FUTURE", "Fact", "cancel", "ingest", "payment", "plan", "quota", "report", "table_rows",
    "won_deal",
]

FAR_FUTURE = datetime(2100, 1, 1, tzinfo=UTC)
Fact = dict[str, Any]


def won_deal(subject: str, *, owner: str, amount: str, signed_at: str, currency: str = "CNY",
             splits: list[tuple[str, str]] | None = None, opened_at: str | None = None,
             source: str = "esign", id_: str | None = None) -> list[Fact]:
    """A deal opened, walked through the standard stages and signed at ``signed_at``."""
    at = opened_at or signed_at
    extra: dict[str, Any] = {"owner": owner, "time": at}
    if splits is not None:
        extra["splits"] = [{"rep": rep, "share": share} for rep, share in splits]
    first = opened(subject, **extra)
    first["id"] = f"{subject}-open"
    path = [fact(t, subject, data, time=at, id_=f"{subject}-{i}")
            for i, (t, data) in enumerate(STANDARD_PATH[:-1])]
    signed = fact("contract.signed", subject, {"amount": amount, "currency": currency},
                  time=signed_at, source=source, id_=id_ or f"{subject}-signed")
    return [first, *path, signed]


def quota(rep: str, period: str, amount: str, *, time: str, currency: str = "CNY",
          source: str = "crm-web", id_: str | None = None) -> Fact:
    """``rep.quota_set``."""
    return fact("rep.quota_set", rep, {"period": period, "amount": amount,
                                       "currency": currency}, time=time, source=source,
                id_=id_)


def plan(rep: str, plan_id: str, *, time: str, effective_from: str | None = None,
         source: str = "crm-web", id_: str | None = None) -> Fact:
    """``rep.plan_assigned``."""
    data: dict[str, Any] = {"plan": plan_id}
    if effective_from is not None:
        data["effective_from"] = effective_from
    return fact("rep.plan_assigned", rep, data, time=time, source=source, id_=id_)


def cancel(subject: str, *, time: str, source: str = "billing",
           id_: str | None = None) -> Fact:
    """``contract.cancelled``."""
    return fact("contract.cancelled", subject, {"reason": "customer withdrew"}, time=time,
                source=source, id_=id_)


def payment(subject: str, amount: str, *, time: str, currency: str = "CNY",
            source: str = "billing", id_: str | None = None) -> Fact:
    """``payment.received``."""
    return fact("payment.received", subject, {"amount": amount, "currency": currency},
                time=time, source=source, id_=id_)


def ingest(engine: Engine, facts: list[Fact]) -> None:
    """Send ``facts`` in this order, as one batch, and insist every one is accepted."""
    result = send(engine, *facts)
    refused = [o for o in result.outcomes if o.status != "accepted"]
    assert not refused, refused


def report(runner: ProjectionRunner, *, as_of: datetime = FAR_FUTURE,
           known_at: datetime | None = None, plans: PlanRegistry | None = None,
           **filters: str) -> CommissionsReport:
    """Catch the view up and build the commission report."""
    runner.catch_up()
    view = runner.live["commissions"]
    assert isinstance(view, CommissionsProjection)
    if plans is not None:  # the same rows, rated by other plans
        view = copy.copy(view)
        view.plans = plans
    with runner.engine.connect() as conn:
        return build_report(conn, view, ReportParams(as_of=as_of, known_at=known_at),
                            **filters)


def table_rows(runner: ProjectionRunner, view: CommissionsProjection) -> dict[str, list[Any]]:
    """Every row of every table of ``view``, by table, in primary-key order."""
    found: dict[str, list[Any]] = {}
    with runner.engine.connect() as conn:
        for table in view.metadata.sorted_tables:
            base = table.name.removeprefix("view_commissions_").rsplit("_", 1)[0]
            order = list(table.primary_key.columns)
            found[base] = [tuple(row) for row in conn.execute(select(table).order_by(*order))]
    return found
