"""The commission report: statements per rep and period, as JSON and as rich tables."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from rich.table import Table
from sqlalchemy import Connection

from projections.commissions.columns import decimal_text, money_text
from projections.commissions.lines import Line, LineKind, Statement, Statements
from projections.commissions.model import DealLabel, FactRef
from projections.commissions.projection import CommissionsProjection
from projections.commissions.rows import load_facts
from projections.commissions.statement import compute_statements
from projections.formatting import NONE, ReportTable, moment, money, percent
from projections.report import ReportParams

__all__ = ["CommissionsReport", "build_report"]

_PERCENT = Decimal("0.01")
_PARTS: tuple[LineKind, ...] = ("bonus", "clawback")


def _money(value: Decimal | None) -> str | None:
    return None if value is None else money_text(value)


def _percent(statement: Statement) -> str | None:
    ratio = statement.attainment
    if ratio is None:
        return None
    return decimal_text((ratio * 100).quantize(_PERCENT, rounding=ROUND_HALF_UP))


def _ref(ref: FactRef) -> dict[str, Any]:
    return {"source": ref.source, "id": ref.fact_id, "position": ref.position}


@dataclass  # not frozen: the Report protocol's ``title`` is a plain attribute
class CommissionsReport:
    """Commission statements computed for explicit times (see :func:`build_report`)."""

    params: ReportParams
    result: Statements
    deals: dict[str, DealLabel] = field(default_factory=dict)
    title: str = "Commission statements"
    #: Each plan's (``PlanVersion.label``) period zone: the zone its lines' times are shown in.
    timezones: dict[str, str] = field(default_factory=dict)

    def _deal(self, deal: str | None) -> dict[str, Any] | None:
        if deal is None:
            return None
        label = self.deals.get(deal)
        return {"id": deal, "subject": label.subject if label else None,
                "account": label.account if label else None}

    def _line(self, line: Line) -> dict[str, Any]:
        return {
            "kind": line.kind, "deal": self._deal(line.deal), "time": line.time.isoformat(),
            "credit": _money(line.credit),
            "rate": None if line.rate is None else decimal_text(line.rate),
            "amount": money_text(line.amount), "currency": line.currency, "plan": line.plan,
            "facts": [_ref(ref) for ref in line.facts],
        }

    def _statement(self, s: Statement) -> dict[str, Any]:
        quota = None if s.quota is None else {
            "amount": money_text(s.quota.amount), "currency": s.quota.currency,
            "from": s.quota.basis, "facts": [_ref(ref) for ref in s.quota.facts]}
        return {
            "rep": s.rep, "period": s.period, "quota": quota,
            "attainment": {"credit": money_text(s.attainment_credit),
                           "percent": _percent(s)},
            "totals": {c: money_text(v) for c, v in s.totals().items()},
            "lines": [self._line(line) for line in s.lines],
        }

    def to_json(self) -> dict[str, Any]:
        """JSON-ready content: decimals as strings, times as RFC 3339."""
        known = self.params.known_at
        return {
            "title": self.title,
            "as_of": self.params.as_of.isoformat(),
            "known_at": known.isoformat() if known is not None else None,
            "statements": [self._statement(s) for s in self.result.statements],
            "warnings": list(self.result.warnings),
        }

    def _label(self, deal: str | None) -> str:
        if deal is None:
            return "(period)"
        label = self.deals.get(deal)
        return label.text if label else deal

    def tables(self) -> list[Table]:
        """A summary per rep and period (a row per currency), then every line; times in
        the zone of each line's plan (formats: projections.formatting)."""
        zones = sorted({self.timezones[line.plan] for s in self.result.statements
                        for line in s.lines if line.plan in self.timezones})
        zone = zones[0] if len(zones) == 1 else None
        known = self.params.known_at
        title = f"Commission statements as of {moment(self.params.as_of, zone)}" + (
            "" if known is None else f", as known at {moment(known, zone)}")
        figures = ("quota", "credit toward quota", "attainment", "commission")
        summary = ReportTable(title, "rep", "period", *figures, numbers=figures)
        for s in self.result.statements:
            currencies = list(s.totals()) or [""]
            for index, currency in enumerate(currencies):
                head = (s.rep, s.period, *_attainment(s)) if index == 0 else ("",) * 5
                summary.add_cells(*head, _commission(s, currency),
                                  end_section=index == len(currencies) - 1)
        where = (f"times in {zones[0]}" if len(zones) == 1
                 else "times in each line's plan zone") if zones else ""
        lines = ReportTable(f"Commission lines ({where})" if where else "Commission lines",
                            "rep, period", "deal, time", "line", "amount", "facts",
                            numbers=("amount",))
        for s in self.result.statements:
            for line in s.lines:
                lines.add_cells(
                    f"{s.rep}\n{s.period}",
                    f"{self._label(line.deal)}\n"
                    f"{moment(line.time, self.timezones.get(line.plan))}",
                    _line(line), money(line.amount, line.currency),
                    "\n".join(f"{r.source}/{r.fact_id}@{r.position}" for r in line.facts),
                )
        tables: list[Table] = [summary, lines]
        if self.result.warnings:
            warnings = ReportTable("Warnings", "warning")
            for warning in self.result.warnings:
                warnings.add_cells(warning)
            tables.append(warnings)
        return tables


def _attainment(s: Statement) -> tuple[str, str, str]:
    """Quota, credit counted toward it (in its currency), and attainment as a percent."""
    if s.quota is None:
        return NONE, NONE, NONE
    return (money(s.quota.amount, s.quota.currency),
            money(s.attainment_credit, s.quota.currency), percent(s.attainment))


def _commission(s: Statement, currency: str) -> str:
    """The total in ``currency``, then the bonus and clawback parts of it, if any
    (``1,000.00 CNY bonus``)."""
    if not currency:
        return NONE
    parts = [money(s.totals()[currency], currency)]
    for kind in _PARTS:
        part = s.total(kind).get(currency)
        if part:
            parts.append(f"{money(part, currency)} {kind}")
    return "\n".join(parts)


def _line(line: Line) -> str:
    """The kind, and for a rate or clawback line the credit rated and the rate (the amount
    is their product, rounded): ``rate: 129,600.00 CNY x 5.00 %``."""
    if line.credit is None or line.rate is None:
        return line.kind
    return f"{line.kind}: {money(line.credit, line.currency)} x {percent(line.rate)}"


def build_report(conn: Connection, view: CommissionsProjection, params: ReportParams, *,
                 period: str | None = None, rep: str | None = None) -> CommissionsReport:
    """Commission statements from ``view``'s rows for ``params``, optionally for one
    ``period`` (``2026-Q1``) and/or one ``rep``, rated by the view's plans."""
    facts = load_facts(conn, view, params)
    result = compute_statements(facts, params, view.plans)
    chosen = tuple(s for s in result.statements
                   if (period is None or s.period == period) and (rep is None or s.rep == rep))
    title = "Commission statements as of " + params.as_of.isoformat()
    if params.known_at is not None:
        title += f", as known at {params.known_at.isoformat()}"
    return CommissionsReport(params, Statements(chosen, result.warnings), facts.deals, title,
                             {plan.label: plan.period.timezone for plan in view.plans})
