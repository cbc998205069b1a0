"""The statement function on its own: a pure function of facts, report times and plans."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from itertools import count
from typing import Any

from projections.commissions import PlanRegistry, Statements, compute_statements, plan_from_yaml
from projections.commissions.model import (
    Cancellation,
    CommissionFacts,
    FactRef,
    Payment,
    PlanAssignment,
    QuotaFact,
    Signing,
    Split,
)
from projections.report import ReportParams
from tests.projections.commissions.facts import FAR_FUTURE

_positions = count(1)
RECORDED = datetime.fromisoformat("2026-01-01T00:00:00+00:00")


def t(text: str) -> datetime:
    """A time in Asia/Shanghai's offset unless given."""
    return datetime.fromisoformat(text if "+" in text or "Z" in text else text + "+08:00")


def _meta(time: str, source: str, fid: str | None, recorded: datetime | None) -> dict[str, Any]:
    position = next(_positions)
    return {"ref": FactRef(source, fid or f"f-{position}", position), "occurred_at": t(time),
            "recorded_at": recorded or RECORDED}


def signing(deal: str, amount: str, time: str, *, owner: str = "alice",
            splits: list[tuple[str, str]] | None = None, currency: str = "CNY",
            source: str = "esign", fid: str | None = None,
            recorded: datetime | None = None) -> Signing:
    return Signing(**_meta(time, source, fid, recorded), deal=deal, amount=Decimal(amount),
                   currency=currency, owner=owner,
                   splits=None if splits is None else tuple(Split(r, Decimal(s))
                                                            for r, s in splits))


def quota(rep: str, period: str, amount: str, time: str, *, currency: str = "CNY",
          source: str = "crm-web", fid: str | None = None,
          recorded: datetime | None = None) -> QuotaFact:
    return QuotaFact(**_meta(time, source, fid, recorded), rep=rep, period=period,
                     amount=Decimal(amount), currency=currency, team=None)


def cancellation(deal: str, time: str, *, recorded: datetime | None = None) -> Cancellation:
    return Cancellation(**_meta(time, "billing", None, recorded), deal=deal, reason="x",
                        refund_amount=None)


def payment(deal: str, amount: str, time: str) -> Payment:
    return Payment(**_meta(time, "billing", None, None), deal=deal, amount=Decimal(amount),
                   currency="CNY")


def assignment(rep: str, plan: str, effective_from: str, time: str) -> PlanAssignment:
    return PlanAssignment(**_meta(time, "crm-web", None, None), rep=rep, plan=plan,
                          effective_from=t(effective_from))


def compute(*facts: Any, as_of: datetime = FAR_FUTURE, known_at: datetime | None = None,
            plans: PlanRegistry | None = None) -> Statements:
    by_kind: dict[type, list[Any]] = {}
    for f in facts:
        by_kind.setdefault(type(f), []).append(f)
    return compute_statements(
        CommissionFacts(
            signings=tuple(by_kind.get(Signing, [])), payments=tuple(by_kind.get(Payment, [])),
            cancellations=tuple(by_kind.get(Cancellation, [])),
            quotas=tuple(by_kind.get(QuotaFact, [])),
            assignments=tuple(by_kind.get(PlanAssignment, []))),
        ReportParams(as_of=as_of, known_at=known_at), plans or PlanRegistry.shipped())


def lines(result: Statements, rep: str = "alice",
          period: str = "2026-Q1") -> list[tuple[str, str | None, str | None, str | None, str]]:
    found = [s for s in result.statements if (s.rep, s.period) == (rep, period)]
    assert len(found) == 1, [(s.rep, s.period) for s in result.statements]
    return [(ln.kind, ln.deal, None if ln.credit is None else str(ln.credit),
             None if ln.rate is None else str(ln.rate), str(ln.amount))
            for ln in found[0].lines]


def periods(result: Statements) -> list[tuple[str, str]]:
    return [(s.rep, s.period) for s in result.statements]


def test_without_a_quota_everything_earns_the_base_rate() -> None:
    result = compute(signing("D1", "200000.00", "2026-01-10T10:00:00"))
    assert lines(result) == [("rate", "D1", "200000.00", "0.05", "10000.00")]
    assert result.statements[0].attainment is None


def test_latest_quota_by_time_wins_whatever_the_log_order() -> None:
    late_in_log_early_in_time = quota("alice", "2026-Q1", "10000.00", "2026-01-01T09:00:00")
    early_in_log_late_in_time = quota("alice", "2026-Q1", "50000.00", "2026-01-03T09:00:00")
    result = compute(early_in_log_late_in_time, late_in_log_early_in_time,
                     signing("D1", "55000.00", "2026-02-01T10:00:00"))
    assert lines(result) == [("rate", "D1", "50000.00", "0.05", "2500.00"),
                             ("rate", "D1", "5000.00", "0.08", "400.00")]


def test_credits_are_ordered_by_time_then_source_then_id() -> None:
    same_time = "2026-02-01T10:00:00"
    result = compute(quota("alice", "2026-Q1", "190.00", "2026-01-01T00:00:00"),
                     signing("DZ", "100.00", same_time, source="zz", fid="a"),
                     signing("DA", "100.00", same_time, source="aa", fid="z"))
    assert lines(result) == [("rate", "DA", "100.00", "0.05", "5.00"),
                             ("rate", "DZ", "90.00", "0.05", "4.50"),
                             ("rate", "DZ", "10.00", "0.08", "0.80")]


def test_a_quarter_without_its_own_quota_sums_its_months() -> None:
    months = [quota("alice", f"2026-0{m}", "1000.00", "2026-01-01T00:00:00") for m in (1, 2)]
    result = compute(*months, signing("D1", "2200.00", "2026-03-01T10:00:00"))
    statement = result.statements[0]
    assert statement.quota is not None and statement.quota.amount == Decimal("2000.00")
    assert statement.quota.basis == "months"
    assert lines(result) == [("rate", "D1", "2000.00", "0.05", "100.00"),
                             ("rate", "D1", "200.00", "0.08", "16.00")]
    own = quota("alice", "2026-Q1", "5000.00", "2026-01-01T00:00:00")
    assert compute(*months, own, signing("D1", "3000.00", "2026-03-01T10:00:00")
                   ).statements[0].quota.amount == Decimal("5000.00")  # type: ignore[union-attr]


def test_months_in_two_currencies_are_not_summed() -> None:
    result = compute(quota("alice", "2026-01", "1000.00", "2026-01-01T00:00:00"),
                     quota("alice", "2026-02", "1000.00", "2026-01-01T00:00:00", currency="USD"),
                     signing("D1", "3000.00", "2026-03-01T10:00:00"))
    assert result.statements[0].quota is None
    assert any("cannot be summed" in w for w in result.warnings)


def test_other_currencies_earn_the_base_rate_and_do_not_count() -> None:
    result = compute(quota("alice", "2026-Q1", "1000.00", "2026-01-01T00:00:00"),
                     signing("D1", "5000.00", "2026-02-01T10:00:00", currency="USD"),
                     signing("D2", "1000.00", "2026-02-02T10:00:00"))
    assert lines(result) == [("rate", "D1", "5000.00", "0.05", "250.00"),
                             ("rate", "D2", "1000.00", "0.05", "50.00")]
    statement = result.statements[0]
    assert statement.attainment_credit == Decimal("1000.00")
    assert statement.totals() == {"CNY": Decimal("50.00"), "USD": Decimal("250.00")}


def test_split_credit_is_rated_unrounded_and_each_line_rounds_half_up() -> None:
    result = compute(signing("D1", "200.19", "2026-02-01T10:00:00",
                             splits=[("alice", "0.5"), ("bob", "0.5")]))
    # 100.095 x 5 % = 5.00475 -> 5.00; rounding the credit first would give 5.01.
    assert lines(result) == [("rate", "D1", "100.095", "0.05", "5.00")]
    assert lines(result, "bob") == [("rate", "D1", "100.095", "0.05", "5.00")]
    half = compute(signing("D2", "10.10", "2026-02-01T10:00:00"))  # 0.505 -> 0.51
    assert lines(half)[0][-1] == "0.51"


def test_the_bonus_is_paid_once_per_period_in_the_quota_currency() -> None:
    result = compute(quota("alice", "2026-Q1", "1000.00", "2026-01-01T00:00:00"),
                     signing("D1", "1200.00", "2026-02-01T10:00:00"),
                     signing("D2", "1000.00", "2026-02-02T10:00:00"),
                     signing("D3", "1000.00", "2026-04-02T10:00:00"))
    assert [ln[0] for ln in lines(result)] == ["rate", "rate", "bonus", "rate"]
    assert lines(result)[2] == ("bonus", None, None, None, "1000.00")
    assert [ln[0] for ln in lines(result, period="2026-Q2")] == ["rate"]  # no quota in Q2


def test_a_zero_quota_rates_everything_above_quota_and_pays_no_bonus() -> None:
    result = compute(quota("alice", "2026-Q1", "0.00", "2026-01-01T00:00:00"),
                     signing("D1", "1000.00", "2026-02-01T10:00:00"))
    assert lines(result) == [("rate", "D1", "1000.00", "0.08", "80.00")]


def test_clawback_window_is_inclusive() -> None:
    signed = "2026-01-20T10:00:00"
    edge = (t(signed) + timedelta(hours=90 * 24)).isoformat()
    inside = compute(signing("D1", "1000.00", signed), cancellation("D1", edge))
    assert lines(inside, period="2026-Q2") == [
        ("clawback", "D1", "-1000.00", "0.05", "-50.00")]
    late = (t(signed) + timedelta(hours=90 * 24, microseconds=1)).isoformat()
    outside = compute(signing("D1", "1000.00", signed), cancellation("D1", late))
    assert periods(outside) == [("alice", "2026-Q1")]


def test_clawback_keeps_bonus_attainment_and_earlier_periods() -> None:
    facts = [quota("alice", "2026-Q1", "1000.00", "2026-01-01T00:00:00"),
             signing("D1", "700.00", "2026-02-01T10:00:00"),
             signing("D2", "600.00", "2026-03-01T10:00:00"),
             signing("D3", "100.00", "2026-03-02T10:00:00")]
    before = compute(*facts)
    after = compute(*facts, cancellation("D2", "2026-04-02T10:00:00"))
    assert after.statements[0] == before.statements[0]  # Q1 unchanged, bonus kept
    assert lines(after, period="2026-Q2") == [
        ("clawback", "D2", "-300.00", "0.05", "-15.00"),
        ("clawback", "D2", "-300.00", "0.08", "-24.00")]
    same_quarter = compute(*facts, cancellation("D2", "2026-03-05T10:00:00"))
    q1 = lines(same_quarter)
    assert q1[-2:] == [("clawback", "D2", "-300.00", "0.05", "-15.00"),
                       ("clawback", "D2", "-300.00", "0.08", "-24.00")]
    assert ("rate", "D3", "100.00", "0.08", "8.00") in q1  # attainment not recomputed
    assert same_quarter.statements[0].attainment_credit == Decimal("1400.00")


def test_as_of_and_known_at_filter_the_facts() -> None:
    recorded_late = datetime.fromisoformat("2026-06-01T00:00:00+00:00")
    facts = [quota("alice", "2026-Q1", "1000.00", "2026-01-01T00:00:00"),
             signing("D1", "2000.00", "2026-02-01T10:00:00"),
             cancellation("D1", "2026-03-01T10:00:00", recorded=recorded_late)]
    assert [ln[0] for ln in lines(compute(*facts))] == [
        "rate", "rate", "bonus", "clawback", "clawback"]
    known = compute(*facts, known_at=datetime.fromisoformat("2026-05-01T00:00:00+00:00"))
    assert [ln[0] for ln in lines(known)] == ["rate", "rate", "bonus"]
    early = compute(*facts, as_of=t("2026-01-31T00:00:00"))
    assert early.statements == ()


FLAT = """
id: flat
version: 1
basis: cash
tiers: [{from_attainment: "0", rate: "0.10"}]
clawback: {window_hours: 24}
"""


def test_the_plan_in_effect_at_signing_applies() -> None:
    plans = PlanRegistry.shipped()
    plans.add(plan_from_yaml(FLAT))
    facts = [assignment("alice", "flat", "2026-02-01T00:00:00", "2026-03-15T00:00:00"),
             signing("D1", "1000.00", "2026-01-31T23:59:59"),
             signing("D2", "1000.00", "2026-02-01T00:00:00"),
             payment("D1", "400.00", "2026-02-10T00:00:00"),
             payment("D2", "400.00", "2026-02-10T00:00:00"),
             payment("D2", "600.00", "2026-04-10T00:00:00")]
    result = compute(*facts, plans=plans)
    assert lines(result) == [("rate", "D1", "1000.00", "0.05", "50.00"),  # standard, booking
                             ("rate", "D2", "400.00", "0.10", "40.00")]  # flat, cash
    assert lines(result, period="2026-Q2") == [("rate", "D2", "600.00", "0.10", "60.00")]
    # Known before the assignment happened, D2 was still on the default plan.
    assert lines(compute(*facts, plans=plans, as_of=t("2026-03-01T00:00:00")))[1] == (
        "rate", "D2", "1000.00", "0.05", "50.00")


def test_cash_basis_stops_crediting_at_the_cancellation() -> None:
    plans = PlanRegistry.shipped()
    plans.add(plan_from_yaml(FLAT))
    result = compute(assignment("alice", "flat", "2026-01-01T00:00:00", "2026-01-01T00:00:00"),
                     signing("D1", "1000.00", "2026-02-01T10:00:00"),
                     payment("D1", "300.00", "2026-02-01T12:00:00"),
                     cancellation("D1", "2026-02-02T10:00:00"),
                     payment("D1", "700.00", "2026-02-03T10:00:00"), plans=plans)
    assert lines(result) == [("rate", "D1", "300.00", "0.10", "30.00"),
                             ("clawback", "D1", "-300.00", "0.10", "-30.00")]


def test_an_unknown_plan_is_reported_not_guessed() -> None:
    result = compute(assignment("alice", "missing", "2026-01-01T00:00:00", "2026-01-01T00:00:00"),
                     signing("D1", "1000.00", "2026-02-01T10:00:00"),
                     signing("D2", "1000.00", "2026-02-01T10:00:00", owner="bob"))
    assert periods(result) == [("bob", "2026-Q1")]
    assert len(result.warnings) == 1 and "'missing'" in result.warnings[0]


def test_split_modes() -> None:
    plans = PlanRegistry()
    base = FLAT.replace("basis: cash", "basis: booking")
    plans.add(plan_from_yaml(base.replace("id: flat", "id: owner\nsplits: owner_only")))
    plans.add(plan_from_yaml(base.replace("id: flat", "id: full\nsplits: full")))
    deal = signing("D1", "1000.00", "2026-02-01T10:00:00",
                   splits=[("alice", "0.25"), ("bob", "0.75")])
    owner_only = compute(assignment("alice", "owner", "2026-01-01T00:00:00", "2026-01-01T00:00:00"),
                         assignment("bob", "owner", "2026-01-01T00:00:00", "2026-01-01T00:00:00"),
                         deal, plans=plans)
    assert periods(owner_only) == [("alice", "2026-Q1")]
    assert lines(owner_only)[0][2] == "1000.00"
    full = compute(assignment("alice", "full", "2026-01-01T00:00:00", "2026-01-01T00:00:00"),
                   assignment("bob", "full", "2026-01-01T00:00:00", "2026-01-01T00:00:00"),
                   deal, plans=plans)
    assert [lines(full, rep)[0][2] for rep in ("alice", "bob")] == ["1000.00", "1000.00"]
