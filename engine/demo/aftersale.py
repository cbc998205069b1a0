"""What follows a won deal: payments, a survey, the follow-up visit, sometimes a cancellation.

All of these are scheduled at signing and delivered by time; none is required by a later
workflow step, so payments, surveys and follow-ups may be delivered late.
"""

from __future__ import annotations

from typing import Any

from engine.demo.clock import DAY, HOUR, business_start
from engine.demo.facts import ScriptItem, cents_text
from engine.demo.profile import DealProfile, DemoContext
from engine.demo.vocab import CANCEL_REASONS

__all__ = ["CLAWBACK_WINDOW", "aftersale_items", "closed_deal_item"]

CLAWBACK_WINDOW = 90 * DAY
_SCORES = (5, 5, 5, 5, 4, 4, 4, 4, 3, 3, 2, 1)
_FORBIDDEN_ON_WON = ("deal.amount_changed", "quote.issued", "proposal.sent", "deal.reassigned")
_FORBIDDEN_ON_LOST = ("proposal.sent", "quote.issued", "deal.amount_changed", "payment.received")


def aftersale_items(
    ctx: DemoContext, deal: DealProfile, owner: str, signed_at: int, cents: int
) -> list[ScriptItem]:
    """The facts after ``contract.signed`` at ``signed_at`` for ``cents``, in no order."""
    rng, mint, subject = ctx.rng, ctx.mint, deal.subject
    items: list[ScriptItem] = []
    cancel_at = _cancellation_time(ctx, signed_at)
    roll = rng.random()
    if roll < 0.88:
        days = rng.uniform(1, 25) if roll < 0.76 else rng.uniform(31, 50)
        t = business_start(signed_at + int(days * DAY))
        kind = rng.choice(("visit", "visit", "call"))
        purpose = rng.choice(("follow_up", "checkin"))
        data = {"kind": kind, "purpose": purpose, "outcome": "completed"}
        items.append(mint.item("activity.logged", t, subject, owner, data, kind=kind,
                               deferrable=True))
    installments = rng.choice((1, 1, 1, 2, 2, 3))
    t, paid = signed_at, 0
    for number in range(installments):
        t = business_start(t + int(rng.uniform(3, 20) * DAY))
        if cancel_at is not None and t >= cancel_at:
            break
        part = cents - paid if number == installments - 1 else cents // installments
        paid += part
        data = {"amount": cents_text(part), "currency": deal.currency}
        items.append(mint.item("payment.received", t, subject, None, data, deferrable=True))
    if rng.random() < 0.55:
        t = signed_at + int(rng.uniform(2, 30) * DAY)
        items.append(mint.item("survey.responded", t, subject, None,
                               {"score": rng.choice(_SCORES)}, deferrable=True))
    if cancel_at is not None:
        data = {"reason": rng.choice(CANCEL_REASONS)}
        if paid:
            data["refund_amount"] = cents_text(paid)
        items.append(mint.item("contract.cancelled", cancel_at, subject, owner, data))
    return items


def _cancellation_time(ctx: DemoContext, signed_at: int) -> int | None:
    """Mostly none; ~2.5 % inside the clawback window; a few early wins cancelled later.

    The late ones land after the quarter (the quarter is only 90 days long): exactly at the
    window's inclusive edge, or a little past it, so clawback's edge can be exercised.
    """
    rng = ctx.rng
    roll = rng.random()
    if roll < 0.025:
        return signed_at + int(rng.uniform(10, 80) * DAY)
    if signed_at < ctx.quarter.start + 20 * DAY and roll < 0.06:
        if rng.random() < 0.3:
            return signed_at + CLAWBACK_WINDOW
        return signed_at + CLAWBACK_WINDOW + int(rng.uniform(1 * HOUR, 10 * DAY))
    return None


def closed_deal_item(
    ctx: DemoContext, deal: DealProfile, owner: str, t: int, *, won: bool
) -> ScriptItem:
    """A bad line: a type the closed deal (won or lost) does not accept, with a fresh id."""
    fact_type = ctx.rng.choice(_FORBIDDEN_ON_WON if won else _FORBIDDEN_ON_LOST)
    data: dict[str, Any]
    if fact_type == "proposal.sent":
        data = {"document": f"{deal.subject}-late.pdf"}
    elif fact_type == "deal.reassigned":
        data = {"owner": ctx.teammate(deal.owner).id}
    else:
        data = {"amount": cents_text(deal.cents), "currency": deal.currency}
    return ctx.mint.item(fact_type, t, deal.subject, owner, data, bad="closed_deal")
