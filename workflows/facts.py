"""The contract's vocabulary that workflow definitions may name: fact types, activity kinds
and purposes, and the "seen tokens" a deal collects from accepted facts."""

from __future__ import annotations

__all__ = [
    "ACTIVITY_KINDS",
    "ACTIVITY_LOGGED",
    "ACTIVITY_PURPOSES",
    "FACT_TYPES",
    "activity_token",
    "fact_tokens",
]

ACTIVITY_LOGGED = "activity.logged"

#: Every ``type`` of the external event contract (version 1 and the 1.1 additions).
FACT_TYPES: frozenset[str] = frozenset(
    {
        "deal.opened",
        "deal.stage_changed",
        ACTIVITY_LOGGED,
        "deal.needs_recorded",
        "deal.customer_info_captured",
        "proposal.sent",
        "quote.issued",
        "deal.registration_approved",
        "contract.signed",
        "deal.lost",
        "deal.reopened",
        "deal.reassigned",
        "deal.amount_changed",
        "payment.received",
        "contract.cancelled",
        "survey.responded",
        "rep.quota_set",
        "rep.plan_assigned",
        # version 1.1: forecasting
        "deal.forecast_set",
        "deal.expected_close_changed",
        "forecast.submitted",
    }
)

#: ``activity.logged`` ``data.kind`` values.
ACTIVITY_KINDS: frozenset[str] = frozenset({"call", "email", "meeting", "visit"})

#: ``activity.logged`` ``data.purpose`` values.
ACTIVITY_PURPOSES: frozenset[str] = frozenset(
    {"first_call", "thank_you", "follow_up", "needs_discovery", "checkin"}
)


def activity_token(kind: str) -> str:
    """The seen token of an activity of ``kind``: ``activity.logged:call``."""
    return f"{ACTIVITY_LOGGED}:{kind}"


def fact_tokens(fact_type: str, kind: str | None = None) -> tuple[str, ...]:
    """The tokens a deal adds to its seen set when it accepts a fact.

    Every fact adds its type; an activity also adds ``activity.logged:<kind>`` so that a
    requirement can ask for a kind of activity.
    """
    if kind is None:
        return (fact_type,)
    if fact_type != ACTIVITY_LOGGED:
        raise ValueError(f"only {ACTIVITY_LOGGED} has a kind, not {fact_type!r}")
    return (fact_type, activity_token(kind))
