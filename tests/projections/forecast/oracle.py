"""A reference model of the contract's forecast, waterfall and accuracy (CONTRACT.md 1.1,
section "Forecast" and precise rules 6, 7 and 8), computed straight from accepted facts.

It shares no code with ``projections/``: it is an independent reading of the contract,
the oracle the property tests compare the product with. Its input is the list of contract
facts dealflow accepted, in arrival order (a deal opened without ``owner`` needs its routed
owner given in ``routed``); it knows the shipped workflows' stages, probabilities and
categories.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

__all__ = ["DealState", "Oracle", "quarter_end", "quarter_of_date", "quarter_of_instant"]

ZONE = ZoneInfo("Asia/Shanghai")
Fact = dict[str, Any]

# (stage, win probability, forecast category) of the shipped workflows, in order.
_STAGES: dict[str, list[tuple[str, str, str]]] = {
    "standard": [("lead", "0.05", "pipeline"), ("contact", "0.10", "pipeline"),
                 ("needs_analysis", "0.20", "pipeline"), ("proposal", "0.40", "best_case"),
                 ("quote", "0.60", "best_case"), ("negotiation", "0.80", "commit")],
    "channel": [("registered", "0.10", "pipeline"), ("approved", "0.20", "pipeline"),
                ("joint_call", "0.30", "pipeline"), ("proposal", "0.40", "best_case"),
                ("quote", "0.60", "best_case"), ("negotiation", "0.80", "commit")],
}
PROBABILITY = {(wf, s): Decimal(p) for wf, rows in _STAGES.items() for s, p, _ in rows}
CATEGORY = {(wf, s): c for wf, rows in _STAGES.items() for s, _, c in rows}
UNASSIGNED = "unassigned"
NO_TEAM = "no team"
TERMS = ("new", "pulled_in", "increased", "decreased", "pushed", "won", "lost")


def instant(text: str) -> datetime:
    """An RFC 3339 ``time``."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def quarter_of_date(day: date) -> str:
    """``2026-Q1`` for a date as written."""
    return f"{day.year}-Q{(day.month - 1) // 3 + 1}"


def quarter_of_instant(moment: datetime) -> str:
    """The quarter of an instant in Asia/Shanghai."""
    return quarter_of_date(moment.astimezone(ZONE).date())


def quarter_end(period: str) -> datetime:
    """The first instant of the quarter after ``period`` (Asia/Shanghai)."""
    year, q = int(period[:4]), int(period[-1])
    month = q * 3 + 1
    if month > 12:
        year, month = year + 1, 1
    return datetime.combine(date(year, month, 1), time(), ZONE)


def money(value: Decimal) -> Decimal:
    """Half-up to 2 decimals."""
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


@dataclass
class DealState:
    """A deal as of an instant (the fold of its facts with ``time`` at or before it)."""

    subject: str
    workflow: str
    opened_at: datetime
    stage: str
    amount: Decimal
    currency: str
    owner: str | None
    expected_close: date | None
    override: str | None
    cancelled: bool = False
    lost_from: str | None = None

    @property
    def open(self) -> bool:
        """Neither won nor lost."""
        return self.stage not in ("won", "lost")

    @property
    def period(self) -> str | None:
        """The quarter of the current close date, or None."""
        return None if self.expected_close is None else quarter_of_date(self.expected_close)

    @property
    def category(self) -> str:
        """The override while open, else the stage's category."""
        if self.stage == "won":
            return "closed"
        if self.stage == "lost":
            return "omitted"
        if self.override is not None and self.override != "auto":
            return self.override
        return CATEGORY[(self.workflow, self.stage)]

    def in_period(self, period: str) -> bool:
        """Open, with its close date in ``period`` (overrides play no part)."""
        return self.open and self.period == period


@dataclass
class _Signing:
    subject: str
    at: datetime
    amount: Decimal
    currency: str
    shares: list[tuple[str | None, Decimal]]
    cancelled_at: datetime | None = None


@dataclass
class Oracle:
    """The contract's forecast read-side over ``facts`` (accepted, in arrival order)."""

    facts: list[Fact]
    routed: dict[str, str | None] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._deal_facts: dict[str, list[tuple[int, Fact]]] = defaultdict(list)
        self._signings: list[_Signing] = []
        self._profiles: dict[str, list[tuple[datetime, str, str, str]]] = defaultdict(list)
        self._submissions: list[Fact] = []
        owners: dict[str, str | None] = {}
        splits: dict[str, list[dict[str, str]] | None] = {}
        signing_of: dict[str, _Signing] = {}
        for position, fact in enumerate(self.facts):
            kind, subject, data = fact["type"], fact["subject"], fact["data"]
            if kind == "rep.profile_set":
                self._profiles[subject].append(
                    (instant(fact["time"]), fact["source"], fact["id"], data["team"]))
            elif kind == "forecast.submitted":
                self._submissions.append(fact)
            elif kind.startswith("rep."):
                continue
            else:
                self._deal_facts[subject].append((position, fact))
            # Splits and owner at signing are the deal's state when the signing arrives.
            if kind == "deal.opened":
                owners[subject] = data.get("owner") or self.routed.get(subject)
                splits[subject] = data.get("splits")
            elif kind == "deal.reassigned":
                owners[subject] = data["owner"]
                splits[subject] = data.get("splits")
            elif kind == "contract.signed":
                amount = Decimal(str(data["amount"]))
                given = splits[subject]
                shares: list[tuple[str | None, Decimal]] = (
                    [(s["rep"], Decimal(str(s["share"]))) for s in given] if given
                    else [(owners[subject], Decimal(1))])
                signing = _Signing(subject, instant(fact["time"]), amount, data["currency"],
                                   shares)
                signing_of[subject] = signing
                self._signings.append(signing)
            elif kind == "contract.cancelled":
                signing_of[subject].cancelled_at = instant(fact["time"])

    # ------------------------------------------------------------------ state
    def deal(self, subject: str, at: datetime) -> DealState | None:
        """The deal as of ``at`` (None when not yet opened then)."""
        rows = sorted(((instant(f["time"]), p, f) for p, f in self._deal_facts[subject]
                       if instant(f["time"]) <= at), key=lambda r: (r[0], r[1]))
        state: DealState | None = None
        closes: list[tuple[datetime, str, str, date]] = []
        overrides: list[tuple[datetime, str, str, str]] = []
        for moment, _, fact in rows:
            kind, data = fact["type"], fact["data"]
            if kind == "deal.opened":
                close = data.get("expected_close")
                state = DealState(
                    subject, data["workflow"], moment,
                    "lead" if data["workflow"] == "standard" else "registered",
                    Decimal(str(data["amount"])), data["currency"],
                    data.get("owner") or self.routed.get(subject),
                    date.fromisoformat(close) if close else None, None)
                continue
            if kind == "deal.expected_close_changed":
                closes.append((moment, fact["source"], fact["id"],
                               date.fromisoformat(data["expected_close"])))
            elif kind == "deal.forecast_set":
                overrides.append((moment, fact["source"], fact["id"], data["category"]))
            if state is None:
                continue  # a fact dated before its deal's opening: the deal is not there yet
            if kind == "deal.stage_changed":
                state.stage = data["to"]
            elif kind in ("quote.issued", "deal.amount_changed"):
                state.amount, state.currency = Decimal(str(data["amount"])), data["currency"]
            elif kind == "contract.signed":
                state.stage = "won"
                state.amount, state.currency = Decimal(str(data["amount"])), data["currency"]
            elif kind == "deal.lost":
                state.lost_from, state.stage = state.stage, "lost"
            elif kind == "deal.reopened":
                state.stage = data.get("stage") or state.lost_from or state.stage
                state.lost_from = None
            elif kind == "deal.reassigned":
                state.owner = data["owner"]
            elif kind == "contract.cancelled":
                state.cancelled = True
        if state is None:
            return None
        if closes:
            state.expected_close = max(closes, key=lambda c: c[:3])[3]
        if overrides:
            state.override = max(overrides, key=lambda o: o[:3])[3]
        return state

    def deals(self, at: datetime) -> list[DealState]:
        """Every deal opened by ``at``, as of ``at``."""
        return [s for s in (self.deal(d, at) for d in sorted(self._deal_facts)) if s]

    def team(self, rep: str | None, at: datetime) -> str:
        """The team of the rep's profile in force at ``at``."""
        if rep is None:
            return UNASSIGNED
        held = [p for p in self._profiles.get(rep, []) if p[0] <= at]
        return max(held, key=lambda p: p[:3])[3] if held else NO_TEAM

    # --------------------------------------------------------------- forecast
    def closed_credit(self, period: str, at: datetime) -> dict[tuple[str, str], Decimal]:
        """(rep or ``unassigned``, currency) -> closed credit of ``period`` as of ``at``."""
        credit: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
        for s in self._signings:
            if s.at > at or quarter_of_instant(s.at) != period:
                continue
            if s.cancelled_at is not None and s.cancelled_at <= at:
                continue
            for rep, share in s.shares:
                credit[(rep or UNASSIGNED, s.currency)] += s.amount * share
        return dict(credit)

    def forecast(self, period: str, at: datetime) -> dict[str, Any]:
        """Rows per rep (``rep``), team (``team``), ``unassigned`` and ``total``, each
        {currency: {column: Decimal}}; and ``no_close_date`` {currency: [count, amount]}."""
        columns = ("closed", "commit", "best_case", "pipeline", "omitted", "weighted")

        def blank() -> dict[str, dict[str, Decimal]]:
            return defaultdict(lambda: dict.fromkeys(columns, Decimal(0)))

        reps: dict[str, dict[str, dict[str, Decimal]]] = defaultdict(blank)
        teams: dict[str, dict[str, dict[str, Decimal]]] = defaultdict(blank)
        unassigned, total = blank(), blank()
        no_date: dict[str, list[Any]] = defaultdict(lambda: [0, Decimal(0)])

        def add(rep: str | None, currency: str, column: str, value: Decimal) -> None:
            rows = [total]
            if rep is None:
                rows.append(unassigned)
            else:
                rows += [reps[rep], teams[self.team(rep, at)]]
            for row in rows:
                row[currency][column] += value

        for (rep, currency), value in sorted(self.closed_credit(period, at).items()):
            add(None if rep == UNASSIGNED else rep, currency, "closed", value)
        for deal in self.deals(at):
            if not deal.open:
                continue
            if deal.expected_close is None:
                no_date[deal.currency][0] += 1
                no_date[deal.currency][1] += deal.amount
                continue
            if deal.period != period:
                continue
            column = deal.category
            add(deal.owner, deal.currency, column, deal.amount)
            add(deal.owner, deal.currency, "weighted",
                deal.amount * PROBABILITY[(deal.workflow, deal.stage)])

        def rolled(rows: dict[str, dict[str, Decimal]]) -> dict[str, dict[str, Decimal]]:
            out = {}
            for currency, row in rows.items():
                row = dict(row)
                row["commit_forecast"] = row["closed"] + row["commit"]
                row["best_case_forecast"] = row["commit_forecast"] + row["best_case"]
                row["pipeline_forecast"] = row["best_case_forecast"] + row["pipeline"]
                out[currency] = row
            return out

        return {"rep": {r: rolled(v) for r, v in reps.items()},
                "team": {t: rolled(v) for t, v in teams.items()},
                "unassigned": rolled(unassigned), "total": rolled(total),
                "no_close_date": {c: tuple(v) for c, v in no_date.items()}}

    # -------------------------------------------------------------- waterfall
    def labels(self, period: str, t1: datetime, t2: datetime) -> dict[str, str]:
        """subject -> the deal's label (``stayed`` or a term) between ``t1`` and ``t2``."""
        out: dict[str, str] = {}
        for subject in sorted(self._deal_facts):
            a, b = self.deal(subject, t1), self.deal(subject, t2)
            start = a is not None and a.in_period(period)
            end = b is not None and b.in_period(period)
            if start and end:
                out[subject] = "stayed"
            elif start:
                assert b is not None
                out[subject] = "pushed" if b.open else b.stage
            elif end:
                out[subject] = "new" if a is None else "pulled_in"
        return out

    def waterfall(self, period: str, t1: datetime, t2: datetime, *, by_owner: bool = False
                  ) -> dict[tuple[str, ...], dict[str, Decimal]]:
        """(currency,) or (owner, currency) -> start, each term and end (exact)."""
        names = ("start", *TERMS, "end")
        rows: dict[tuple[str, ...], dict[str, Decimal]] = defaultdict(
            lambda: dict.fromkeys(names, Decimal(0)))

        def key(state: DealState) -> tuple[str, ...]:
            if by_owner:
                return (state.owner or UNASSIGNED, state.currency)
            return (state.currency,)

        for subject, label in self.labels(period, t1, t2).items():
            a, b = self.deal(subject, t1), self.deal(subject, t2)
            if a is not None and a.in_period(period):
                rows[key(a)]["start"] += a.amount
            if b is not None and b.in_period(period):
                rows[key(b)]["end"] += b.amount
            if label == "stayed":
                assert a is not None and b is not None
                if key(a) != key(b):
                    rows[key(a)]["decreased"] += a.amount
                    rows[key(b)]["increased"] += b.amount
                elif b.amount > a.amount:
                    rows[key(a)]["increased"] += b.amount - a.amount
                elif b.amount < a.amount:
                    rows[key(a)]["decreased"] += a.amount - b.amount
            elif label in ("pushed", "won", "lost"):
                assert a is not None
                rows[key(a)][label] += a.amount
            else:
                assert b is not None
                rows[key(b)][label] += b.amount
        return dict(rows)

    # --------------------------------------------------------------- accuracy
    def accuracy(self, rep: str, period: str, at: datetime) -> dict[str, Any]:
        """The rep's submissions for ``period`` with time at or before ``at``, each with
        its error; the latest as of the earlier of ``at`` and the period's end."""
        cutoff = min(at, quarter_end(period))
        credit = self.closed_credit(period, cutoff)

        def judged(fact: Fact) -> dict[str, Any]:
            submitted = Decimal(str(fact["data"]["amount"]))
            currency = fact["data"]["currency"]
            actual = credit.get((rep, currency), Decimal(0))
            error = (None if actual == 0 else ((submitted - actual) / actual).quantize(
                Decimal("0.0001"), rounding=ROUND_HALF_UP))
            return {"id": fact["id"], "time": instant(fact["time"]), "amount": submitted,
                    "currency": currency, "actual": actual, "error": error}

        mine = sorted((f for f in self._submissions if f["subject"] == rep
                       and f["data"]["period"] == period and instant(f["time"]) <= at),
                      key=lambda f: (instant(f["time"]), f["source"], f["id"]))
        latest = [f for f in mine if instant(f["time"]) <= cutoff]
        return {"submissions": [judged(f) for f in mine],
                "latest": judged(latest[-1]) if latest else None}
