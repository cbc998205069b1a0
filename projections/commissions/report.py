"""The commission report: statements per rep and period, as JSON and as rich tables."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from rich.table import Table
from sqlalchemy import Connection

from projections.commissions.columns import decimal_text, money_text
from projections.commissions.lines import Line, Statement, Statements
from projections.commissions.model import DealLabel, FactRef
from projections.commissions.projection import CommissionsProjection
from projections.commissions.rows import load_facts
from projections.commissions.statement import compute_statements
from projections.report import ReportParams

__all__ = ["CommissionsReport", "build_report"]

_PERCENT = Decimal("0.01")


def _money(value: Decimal | None) -> str | None:
    return None if value is None else money_text(value)


def _percent(statement: Statement) -> str | None:
    ratio = statement.attainment
    if ratio is None:
        return None
    return decimal_text((ratio * 100).quantize(_PERCENT, rounding=ROUND_HALF_UP))


def _grouped(value: Decimal) -> str:
    """An amount for people: ``121,000.095``, ``1,500.00``."""
    return f"{Decimal(money_text(value)):,}"


def _ref(ref: FactRef) -> dict[str, Any]:
    return {"source": ref.source, "id": ref.fact_id, "position": ref.position}


@dataclass  # not frozen: the Report protocol's ``title`` is a plain attribute
class CommissionsReport:
    """Commission statements computed for explicit times (see :func:`build_report`)."""

    params: ReportParams
    result: Statements
    deals: dict[str, DealLabel] = field(default_factory=dict)
    title: str = "Commission statements"

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
        """A summary per rep and period, then every line."""
        summary = Table(title=self.title)
        for name in ("rep", "period", "quota", "attainment", "%", "rate", "bonus",
                     "clawback", "total"):
            summary.add_column(name, justify="left" if name in ("rep", "period") else "right")
        for s in self.result.statements:
            currencies = list(s.totals())
            for index, currency in enumerate(currencies):
                first = index == 0
                quota = (f"{_grouped(s.quota.amount)} {s.quota.currency}"
                         if first and s.quota is not None else "")
                summary.add_row(
                    s.rep if first else "", s.period if first else "", quota,
                    _grouped(s.attainment_credit) if first else "",
                    (_percent(s) or "") if first else "",
                    *(_grouped(s.total(kind).get(currency, Decimal(0)))
                      for kind in ("rate", "bonus", "clawback")),
                    f"{_grouped(s.totals()[currency])} {currency}",
                )
        lines = Table(title="Commission lines")
        for name in ("rep", "period", "kind", "deal", "time", "credit", "rate", "amount",
                     "facts"):
            lines.add_column(name, justify="right" if name in ("credit", "rate", "amount")
                             else "left")
        for s in self.result.statements:
            for line in s.lines:
                lines.add_row(
                    s.rep, s.period, line.kind, self._label(line.deal),
                    line.time.isoformat(timespec="minutes"),
                    "" if line.credit is None else _grouped(line.credit),
                    "" if line.rate is None else f"{decimal_text((line.rate * 100).normalize())} %",
                    f"{_grouped(line.amount)} {line.currency}",
                    ", ".join(f"{r.source}/{r.fact_id}@{r.position}" for r in line.facts),
                )
        tables = [summary, lines]
        if self.result.warnings:
            warnings = Table(title="Warnings")
            warnings.add_column("warning")
            for warning in self.result.warnings:
                warnings.add_row(warning)
            tables.append(warnings)
        return tables


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
    return CommissionsReport(params, Statements(chosen, result.warnings), facts.deals, title)
