"""Order statistics without floats: median (mean of the two middle values for an even
count) and nearest-rank percentiles, over integers (e.g. durations in microseconds); and
the same read from a histogram of durations whose buckets keep every value within 0.4 %
(:func:`span_bucket`), which the pipeline view keeps so that /metrics reads time in stage
at a cost that does not grow with history."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal

__all__ = ["SPAN_BUCKET_ERROR", "bucket_value", "histogram_median", "histogram_percentile",
           "median", "micros", "percentile", "ratio", "seconds", "span_bucket"]

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


# ---------------------------------------------------------------- histogram of durations
#: Sub-buckets per power of two: a duration of at least 2**_SUB µs falls in a bucket as wide
#: as 1/2**_SUB of its lower bound, whose midpoint is within 1/2**(_SUB+1) of it.
_SUB = 7
_HALF = 1 << _SUB
#: The most a bucket's value (:func:`bucket_value`) differs from a duration in it, relative
#: to the duration: 1/256, under 0.4 % (durations under 256 µs are exact).
SPAN_BUCKET_ERROR = Decimal(1) / Decimal(1 << (_SUB + 1))


def span_bucket(us: int) -> int:
    """The histogram bucket of a duration of ``us`` (>= 0) microseconds: integers only, so
    the same on every machine (a view must be a pure function of its events). Below
    256 µs a bucket holds one value; above, 128 buckets per power of two (HDR histogram's
    layout), about 5,400 buckets up to ten years."""
    if us < 2 * _HALF:
        return max(0, us)
    shift = us.bit_length() - (_SUB + 1)
    return ((shift + 1) << _SUB) + (us >> shift) - _HALF


def bucket_value(bucket: int) -> int:
    """The duration (µs) a bucket stands for: the middle of the durations in it (the upper
    of the two middle values: a bucket above 256 µs holds an even count of them)."""
    if bucket < 2 * _HALF:
        return bucket
    shift = (bucket >> _SUB) - 1
    low = (_HALF + (bucket & (_HALF - 1))) << shift
    return low + (1 << (shift - 1))


def _at_rank(buckets: Sequence[tuple[int, int]], rank: int) -> int:
    """The value of the ``rank``-th smallest duration (1-based) of sorted ``buckets``."""
    seen = 0
    for bucket, count in buckets:
        seen += count
        if seen >= rank:
            return bucket_value(bucket)
    raise ValueError(f"rank {rank} beyond the {seen} durations counted")


def histogram_median(buckets: Sequence[tuple[int, int]]) -> Decimal | None:
    """:func:`median` of the durations counted in ``buckets`` ((bucket, count), sorted by
    bucket), each taken as its bucket's value; ``None`` when empty."""
    n = sum(count for _, count in buckets)
    if not n:
        return None
    if n % 2:
        return Decimal(_at_rank(buckets, n // 2 + 1))
    return Decimal(_at_rank(buckets, n // 2) + _at_rank(buckets, n // 2 + 1)) / 2


def histogram_percentile(buckets: Sequence[tuple[int, int]], pct: int) -> Decimal | None:
    """:func:`percentile` (nearest rank) of the durations counted in ``buckets``, each
    taken as its bucket's value; ``None`` when empty."""
    n = sum(count for _, count in buckets)
    if not n:
        return None
    return Decimal(_at_rank(buckets, max(1, math.ceil(n * pct / 100))))
