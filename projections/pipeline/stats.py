"""Order statistics without floats: median (mean of the two middle values for an even
count) and nearest-rank percentiles, over integers (e.g. durations in microseconds)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal

__all__ = ["median", "micros", "percentile", "ratio", "seconds"]

_RATIO = Decimal("0.0001")
_MICRO = Decimal(1_000_000)


def micros(delta: timedelta) -> int:
    """A duration in whole microseconds (exact)."""
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def median(values: Sequence[int]) -> Decimal | None:
    """The median of ``values`` (need not be sorted); ``None`` when empty."""
    if not values:
        return None
    ordered = sorted(values)
    mid = len(ordered) // 2
    if len(ordered) % 2:
        return Decimal(ordered[mid])
    return Decimal(ordered[mid - 1] + ordered[mid]) / 2


def percentile(values: Sequence[int], pct: int) -> Decimal | None:
    """The nearest-rank ``pct``-th percentile: the smallest value with at least ``pct`` %
    of the values at or below it; ``None`` when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(len(ordered) * pct / 100))
    return Decimal(ordered[rank - 1])


def seconds(us: Decimal | None) -> Decimal | None:
    """Microseconds as seconds (exact; whole seconds without a fraction)."""
    if us is None:
        return None
    value = us / _MICRO
    return value.quantize(Decimal(1)) if value == value.to_integral_value() else value


def ratio(part: int | Decimal, whole: int | Decimal) -> Decimal | None:
    """``part / whole`` rounded half-up to 4 decimals; ``None`` when ``whole`` is 0."""
    if not whole:
        return None
    return (Decimal(part) / Decimal(whole)).quantize(_RATIO, rounding=ROUND_HALF_UP)
