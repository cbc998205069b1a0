"""Account segments: per account and currency, the contracts it signed in the last 365
days, and its tier (``high_value``, ``potential``, ``ordinary``) ranked within the currency.

::

    log --SegmentsProjection--> deals (account), signings, cancellations
        --build_report(conn, view, params)--> SegmentsReport (tiers as of params.as_of)
"""

from projections.segments.projection import SegmentsProjection
from projections.segments.report import AccountSegment, SegmentsReport, build_report
from projections.segments.tiers import HIGH_VALUE, ORDINARY, POTENTIAL, rank

__all__ = [
    "HIGH_VALUE",
    "ORDINARY",
    "POTENTIAL",
    "AccountSegment",
    "SegmentsProjection",
    "SegmentsReport",
    "build_report",
    "rank",
]
