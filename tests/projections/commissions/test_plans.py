"""Plans as versioned, effective-dated data: the shipped plan, validation, registry."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from projections.commissions import (
    DEFAULT_PLAN,
    CommissionPlanError,
    PlanRegistry,
    plan_from_yaml,
)

VALID = """
id: test-plan
version: 1
tiers:
  - {from_attainment: "0", rate: "0.05"}
  - {from_attainment: "1", rate: "0.08"}
"""


def test_shipped_standard_2026_is_the_contract_plan() -> None:
    plan = PlanRegistry.shipped().get(DEFAULT_PLAN)
    assert (plan.id, plan.version, plan.effective_from) == ("standard-2026", 1, None)
    assert plan.basis == "booking"
    assert (plan.period.unit, plan.period.timezone) == ("quarter", "Asia/Shanghai")
    assert plan.splits == "at_signing"
    assert [(t.from_attainment, t.rate) for t in plan.tiers] == [
        (Decimal(0), Decimal("0.05")), (Decimal(1), Decimal("0.08"))]
    assert [(b.at_attainment, b.amount) for b in plan.bonuses] == [
        (Decimal("1.2"), Decimal("1000.00"))]
    assert plan.clawback is not None and plan.clawback.window_hours == 90 * 24
    assert (plan.rounding.places, plan.rounding.mode) == (2, "half_up")
    assert plan.rounding.apply(Decimal("0.125")) == Decimal("0.13")


def test_quarters_are_judged_in_the_plans_zone() -> None:
    period = PlanRegistry.shipped().get(DEFAULT_PLAN).period
    assert period.label(datetime(2026, 3, 31, 16, 0, tzinfo=UTC)) == "2026-Q2"  # 00:00 +08
    assert period.label(datetime(2026, 3, 31, 15, 59, 59, tzinfo=UTC)) == "2026-Q1"


@pytest.mark.parametrize(("change", "field"), [
    ('  - {from_attainment: "1", rate: "1.5"}', "tiers.2.rate"),
    ('  - {from_attainment: "1", rate: "0.08", extra: 1}', "tiers.2.extra"),
    ('  - {from_attainment: "0", rate: "0.08"}', "tiers"),
    ("basis: accrual", "basis"),
    ("period: {unit: quarter, timezone: Mars/Olympus}", "period.timezone"),
    ("clawback: {window_hours: -1}", "clawback.window_hours"),
    ('bonuses: [{at_attainment: "1.2", amount: "10.005"}]', "bonuses.0.amount"),
    ("effective_from: 2026-04-01T00:00:00", "effective_from"),
])
def test_invalid_plans_name_the_field(change: str, field: str) -> None:
    text = VALID + change + "\n"
    with pytest.raises(CommissionPlanError) as caught:
        plan_from_yaml(text, source="test.yaml")
    assert "test.yaml" in str(caught.value)
    assert f"{field}:" in str(caught.value)


def test_floats_are_refused_naming_the_field() -> None:
    with pytest.raises(CommissionPlanError, match=r"tiers\.0\.rate: write decimals as strings"):
        plan_from_yaml(VALID.replace('rate: "0.05"', "rate: 0.05"))


def test_versions_take_effect_by_date(tmp_path: Path) -> None:
    v2 = VALID.replace("version: 1", "version: 2\neffective_from: 2026-04-01T00:00:00+08:00")
    v2 = v2.replace('rate: "0.08"', 'rate: "0.10"')
    (tmp_path / "a.yaml").write_text(VALID)
    (tmp_path / "b.yaml").write_text(v2)
    registry = PlanRegistry()
    registry.load_dir(tmp_path)
    april = datetime(2026, 3, 31, 16, 0, tzinfo=UTC)
    assert registry.version_at("test-plan", april).version == 2  # type: ignore[union-attr]
    before = datetime(2026, 3, 31, 15, 59, tzinfo=UTC)
    assert registry.version_at("test-plan", before).version == 1  # type: ignore[union-attr]
    assert registry.version_at("nope", april) is None
    assert registry.get("test-plan").version == 2
    assert len(registry) == 2


def test_a_version_never_changes_and_dates_must_increase() -> None:
    registry = PlanRegistry()
    registry.add(plan_from_yaml(VALID))
    registry.add(plan_from_yaml(VALID))  # identical: no-op
    with pytest.raises(CommissionPlanError, match="new version"):
        registry.add(plan_from_yaml(VALID.replace('"0.08"', '"0.09"')))
    with pytest.raises(CommissionPlanError, match="effective_from is required"):
        registry.add(plan_from_yaml(VALID.replace("version: 1", "version: 2")))
    registry.add(plan_from_yaml(
        VALID.replace("version: 1", "version: 3\neffective_from: 2026-07-01T00:00:00Z")))
    with pytest.raises(CommissionPlanError, match="must be later"):
        registry.add(plan_from_yaml(
            VALID.replace("version: 1", "version: 4\neffective_from: 2026-06-01T00:00:00Z")))
    with pytest.raises(CommissionPlanError, match="unknown commission plan 'nope'"):
        registry.get("nope")
