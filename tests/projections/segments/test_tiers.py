"""The tier ranking alone: boundaries at exactly 70 % and 90 %, ties, credit <= 0."""

from __future__ import annotations

from decimal import Decimal

from projections.segments import HIGH_VALUE, ORDINARY, POTENTIAL, rank


def tiers(credits: dict[str, str]) -> list[tuple[str, str]]:
    return [(a, t) for a, t, _ in rank({k: Decimal(v) for k, v in credits.items()})]


def test_the_first_account_is_high_value_even_alone() -> None:
    assert tiers({"a": "5.00"}) == [("a", HIGH_VALUE)]


def test_exactly_70_and_90_percent_before_are_not_less() -> None:
    assert tiers({"a": "70.00", "b": "20.00", "c": "10.00"}) == [
        ("a", HIGH_VALUE), ("b", POTENTIAL), ("c", ORDINARY)]
    assert tiers({"a": "69.99", "b": "20.01", "c": "10.00"}) == [
        ("a", HIGH_VALUE), ("b", HIGH_VALUE), ("c", ORDINARY)]
    assert tiers({"a": "70.00", "b": "19.99", "c": "10.01"}) == [
        ("a", HIGH_VALUE), ("b", POTENTIAL), ("c", POTENTIAL)]


def test_ties_by_account_id_in_code_point_order() -> None:
    assert [a for a, _ in tiers({"acct-2": "10.00", "acct-10": "10.00", "Acct": "10.00"})] == [
        "Acct", "acct-10", "acct-2"]


def test_zero_credit_is_ordinary_and_no_credit_at_all_is_all_ordinary() -> None:
    assert tiers({"a": "0.00", "b": "1.00"}) == [("b", HIGH_VALUE), ("a", ORDINARY)]
    assert tiers({"a": "0.00", "b": "0.00"}) == [("a", ORDINARY), ("b", ORDINARY)]


def test_shares_are_exact() -> None:
    ranked = rank({"a": Decimal("1.00"), "b": Decimal("1.00"), "c": Decimal("1.00")})
    assert [s for _, _, s in ranked][:2] == [Decimal(0), Decimal(1) / Decimal(3)]
