"""One deal's life as a lazy, time-ordered stream of facts.

The deal walks its workflow one stage at a time: before each ``deal.stage_changed`` it emits
the fact the contract requires for entering that stage, so arrival order per deal is always
valid. At each stage it may be lost (and sometimes reopened later), stall, or move on. Side
facts (the thank-you email, after-sales facts) wait in a small per-deal heap and come out in
time order. Facts after the quarter's end are not emitted: the deal stays open.

A few deals also carry workflow-level bad lines (fresh ``bad-...`` ids, always refused): a
stage change before its required fact, a stage jump, a second ``deal.opened``, a type a
closed deal does not accept.
"""

from __future__ import annotations

import contextlib
import heapq
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

from engine.demo.aftersale import aftersale_items, closed_deal_item
from engine.demo.clock import DAY, HOUR, MINUTE, business_add, local_date
from engine.demo.facts import ScriptItem, cents_text
from engine.demo.profile import DealProfile, DemoContext, draw_profile, round_cents, split_between
from engine.demo.vocab import CALL_OUTCOMES, CONTACT_NAMES, LOSS_REASONS, NEEDS

__all__ = ["deal_script"]

_LOSS = (0.07, 0.06, 0.08, 0.10, 0.08)  # chance of losing the deal in open stage 0..4
_STALL = 0.02
_WIN = 0.62  # in negotiation; lost 0.30, stalled the rest
_PREMATURE = _JUMP = 0.0015  # per stage entered: a refused stage change first
_REQUIREMENT_GAP = {  # business seconds from entering stage k-1 to the fact stage k needs
    2: (10 * MINUTE, 9 * HOUR),
    3: (9 * HOUR, 6 * 9 * HOUR),
    4: (9 * HOUR, 8 * 9 * HOUR),
    5: (9 * HOUR, 4 * 9 * HOUR),
}
_OUTCOMES = {"email": "sent", "meeting": "held", "visit": "held"}
_CLOSE_MOVE = 0.05  # per stage: the owner moves the expected close (mostly pushes it out)
_OVERRIDE = 0.07  # per stage from proposal on: the owner's forecast call on the deal
_CALLS = ("commit", "commit", "best_case", "best_case", "pipeline", "omitted")


class _QuarterOver(Exception):
    """The next fact would fall after the quarter: the deal stops here, still open."""


def deal_script(ctx: DemoContext, number: int, opened_at: int) -> Iterator[ScriptItem]:
    """Deal ``number``'s facts in time order, drawn lazily from ``ctx.rng`` as they are pulled."""
    walk = _Walk(ctx, draw_profile(ctx, number, opened_at), opened_at)
    with contextlib.suppress(_QuarterOver):
        yield from walk.run()
    yield from walk.flush()


class _Walk:
    # Tens of thousands of deals are in progress at once in a large quarter: keep each small.
    __slots__ = ("called", "cents", "close", "ctx", "deal", "forced", "overridden", "owner",
                 "pending", "queued", "reopened", "rng", "satisfied", "stage", "t")

    def __init__(self, ctx: DemoContext, deal: DealProfile, opened_at: int) -> None:
        self.ctx, self.rng, self.deal = ctx, ctx.rng, deal
        self.t = opened_at - 1
        self.stage = 0
        self.satisfied = 0  # requirements accepted for stages 1..satisfied
        self.owner = deal.owner
        self.cents = deal.cents
        self.called = False
        self.reopened = False
        self.forced = False
        self.close = date.fromisoformat(deal.expected_close)
        self.overridden = False
        self.pending: list[tuple[int, int, ScriptItem]] = []
        self.queued = 0

    # -- time and emission -------------------------------------------------------------

    def at(self, t: int) -> int:
        t = max(t, self.t + 1)
        if t >= self.ctx.quarter.end:
            raise _QuarterOver
        self.t = t
        return t

    def business(self, low: int, high: int) -> int:
        return self.at(business_add(self.t, self.rng.randint(low, high)))

    def fact(self, fact_type: str, t: int, data: dict[str, Any], **options: Any) -> ScriptItem:
        actor = options.pop("actor", self.owner.id)
        return self.ctx.mint.item(fact_type, t, self.deal.subject, actor, data, **options)

    def emit(self, item: ScriptItem) -> Iterator[ScriptItem]:
        while self.pending and self.pending[0][0] <= item.time:
            yield heapq.heappop(self.pending)[2]
        if item.bad is not None:
            self.ctx.produced.add(item.bad)
        yield item

    def later(self, item: ScriptItem, *, limit: int | None = None) -> None:
        if item.time < (limit or self.ctx.quarter.end):
            if item.bad is not None:
                self.ctx.produced.add(item.bad)
            self.queued += 1
            heapq.heappush(self.pending, (item.time, self.queued, item))

    def chance(self, p: float, bad_class: str) -> bool:
        """Whether to add a ``bad_class`` line here: with chance ``p``, or at the first
        opportunity of the run while that class has not been delivered (one forced class
        per deal), so even a small quarter has every class."""
        if self.rng.random() < p:
            return True
        if self.forced or bad_class in self.ctx.produced:
            return False
        self.forced = True
        return True

    def flush(self) -> Iterator[ScriptItem]:
        while self.pending:
            yield heapq.heappop(self.pending)[2]

    # -- the walk ----------------------------------------------------------------------

    def run(self) -> Iterator[ScriptItem]:
        deal, rng = self.deal, self.rng
        yield from self.emit(self.opened(self.at(self.t + 1)))
        if self.chance(0.004, "opened_twice"):  # a double-submitted form: same deal, new id
            t = self.at(self.t + rng.randint(MINUTE, 2 * HOUR))
            yield from self.emit(self.opened(t, bad="opened_twice"))
        if deal.workflow == "channel":  # the rep's first touch, well before the joint call
            late = rng.random() < 0.15
            span = (9 * HOUR + MINUTE, 27 * HOUR) if late else (10 * MINUTE, 8 * HOUR)
            t = self.at(business_add(self.t, rng.randint(*span)))
            yield from self.emit(self.activity(t, "email", "needs_discovery"))
        last = len(deal.stages) - 1
        while True:
            if self.stage == last:
                roll = rng.random()
                self.business(2 * 9 * HOUR, 20 * 9 * HOUR)
                if roll < _WIN:
                    yield from self.win()
                    return
                if roll > _WIN + 0.30:
                    return
                yield from self.lose()
            elif rng.random() < _LOSS[self.stage]:
                self.business(9 * HOUR, 10 * 9 * HOUR)
                yield from self.lose()
            elif rng.random() < _STALL:
                return
            else:
                yield from self.extras()
                yield from self.enter(self.stage + 1)
                continue
            if self.stage < 0:  # lost for good
                return

    def opened(self, t: int, bad: str | None = None) -> ScriptItem:
        # Channel deals are registered by the partner, through the partner portal.
        deal = self.deal
        return self.fact("deal.opened", t, deal.opened_data(), bad=bad,
                         actor=deal.partner or deal.owner.id,
                         source="partner-portal" if deal.partner else None)

    def enter(self, k: int) -> Iterator[ScriptItem]:
        stages, rng = self.deal.stages, self.rng
        if k > self.satisfied:
            t = self.requirement_time(k)
            if self.chance(_PREMATURE, "missing_requirement"):
                early = self.fact("deal.stage_changed", self.at(t - 1), {"to": stages[k]},
                                  bad="missing_requirement")
                yield from self.emit(early)
            yield from self.emit(self.requirement(k, self.at(t)))
            self.satisfied = k
        elif k == 5 and rng.random() < 0.5:  # back in quote after a reopen: a revised quote
            yield from self.emit(self.quote(self.business(9 * HOUR, 3 * 9 * HOUR)))
        if k + 1 < len(stages) and self.chance(_JUMP, "stage_jump"):
            jump = self.fact("deal.stage_changed", self.business(MINUTE, HOUR),
                             {"to": stages[k + 1]}, bad="stage_jump")
            yield from self.emit(jump)
        t = self.business(5 * MINUTE, 3 * HOUR)
        yield from self.emit(self.fact("deal.stage_changed", t, {"to": stages[k]}))
        self.stage = k

    def requirement_time(self, k: int) -> int:
        rng = self.rng
        if k == 1:  # first contact / registration approval: mostly within the SLA
            late = rng.random() < 0.15
            span = (9 * HOUR + MINUTE, 27 * HOUR) if late else (10 * MINUTE, 8 * HOUR)
            if self.deal.workflow == "channel":
                span = (18 * HOUR + MINUTE, 40 * HOUR) if late else (HOUR, 16 * HOUR)
            return business_add(self.t, rng.randint(*span))
        if k == 4:  # proposal delivered: proposal_dwell is 14 days
            days = rng.uniform(12, 20) if rng.random() < 0.12 else rng.uniform(1, 10)
            return business_add(self.t + int(days * DAY), 0)
        if self.deal.workflow == "channel" and k == 2:
            return business_add(self.t, rng.randint(9 * HOUR, 5 * 9 * HOUR))
        return business_add(self.t, rng.randint(*_REQUIREMENT_GAP[k]))

    def requirement(self, k: int, t: int) -> ScriptItem:
        deal, rng = self.deal, self.rng
        if k == 1 and deal.workflow == "channel":
            return self.fact("deal.registration_approved", t, {}, actor="channel-desk")
        if k == 1 or (k == 2 and deal.workflow == "channel"):
            kind = "call" if k == 1 or rng.random() < 0.5 else "meeting"
            return self.activity(t, kind, "first_call" if kind == "call" else "needs_discovery")
        if k == 2:
            name = rng.choice(CONTACT_NAMES)
            data = {"contact_name": name, "phone": f"+86 1{rng.randint(30, 89)} "
                    f"{rng.randint(1000, 9999)} {rng.randint(1000, 9999)}"}
            return self.fact("deal.customer_info_captured", t, data)
        if k == 3:
            return self.fact("deal.needs_recorded", t, {"summary": rng.choice(NEEDS)})
        if k == 4:
            return self.fact("proposal.sent", t, {"document": f"{deal.subject}-proposal.pdf"})
        return self.quote(t)

    def activity(self, t: int, kind: str, purpose: str, *, side: bool = False) -> ScriptItem:
        outcome = _OUTCOMES.get(kind) or self.rng.choice(CALL_OUTCOMES)
        data = {"kind": kind, "purpose": purpose, "outcome": outcome}
        item = self.fact("activity.logged", t, data, kind=kind, deferrable=side)
        if kind == "call" and not self.called:
            self.called = True
            self.thank_you(t)
        return item

    def thank_you(self, call_at: int) -> None:
        roll = self.rng.random()
        if roll < 0.08:  # never sent
            return
        hours = self.rng.uniform(0.3, 23) if roll < 0.88 else self.rng.uniform(25, 72)
        data = {"kind": "email", "purpose": "thank_you", "outcome": "sent"}
        t = call_at + int(hours * HOUR)
        self.later(self.fact("activity.logged", t, data, kind="email", deferrable=True))

    def quote(self, t: int) -> ScriptItem:
        self.cents = round_cents(self.rng, self.cents / 100 * self.rng.uniform(0.85, 1.1))
        return self.fact("quote.issued", t, self.money())

    def money(self) -> dict[str, Any]:
        return {"amount": cents_text(self.cents), "currency": self.deal.currency}

    def extras(self) -> Iterator[ScriptItem]:
        rng, deal = self.rng, self.deal
        contacted = self.stage >= (2 if deal.workflow == "channel" else 1)
        roll = rng.random()
        while contacted and roll < 0.5:  # one more activity half the time, two some times
            kind = rng.choice(("meeting", "visit", "call", "email", "email"))
            purpose = "needs_discovery" if self.stage < 3 else "follow_up"
            t = self.business(HOUR, 2 * 9 * HOUR)
            yield from self.emit(self.activity(t, kind, purpose, side=True))
            roll = roll * 5
        if self.stage < 4 and rng.random() < 0.04:
            self.cents = round_cents(rng, self.cents / 100 * rng.uniform(0.8, 1.25))
            t = self.business(HOUR, 9 * HOUR)
            yield from self.emit(self.fact("deal.amount_changed", t, self.money()))
        if rng.random() < 0.008:
            owner = self.ctx.teammate(self.owner)
            data: dict[str, Any] = {"owner": owner.id}
            if rng.random() < 0.3:
                data["splits"] = split_between(self.ctx, owner)
            t = self.business(HOUR, 9 * HOUR)
            yield from self.emit(self.fact("deal.reassigned", t, data, actor="sales-ops"))
            self.owner = owner
        yield from self.forecast_calls()

    def forecast_calls(self) -> Iterator[ScriptItem]:
        """Close-date moves and forecast overrides (contract 1.1), on the open deal."""
        rng = self.rng
        if rng.random() < _CLOSE_MOVE:
            t = self.business(HOUR, 9 * HOUR)
            today = local_date(t)
            days = rng.randint(-20, -5) if rng.random() < 0.25 else rng.randint(10, 60)
            self.close = max(self.close + timedelta(days=days), today + timedelta(days=1))
            data = {"expected_close": self.close.isoformat()}
            yield from self.emit(self.fact("deal.expected_close_changed", t, data))
        if self.stage >= 3 and rng.random() < _OVERRIDE:
            t = self.business(HOUR, 9 * HOUR)
            # Half the overridden deals go back to their stage's category some time later.
            category = "auto" if self.overridden and rng.random() < 0.5 else rng.choice(_CALLS)
            self.overridden = category != "auto"
            yield from self.emit(self.fact("deal.forecast_set", t, {"category": category}))

    def lose(self) -> Iterator[ScriptItem]:
        rng, stage = self.rng, self.stage
        bucket = "early" if stage <= 1 else "middle" if stage <= 3 else "late"
        reason = rng.choice(LOSS_REASONS[bucket])
        yield from self.emit(self.fact("deal.lost", self.t, {"reason": reason}))
        if self.chance(0.015, "closed_deal"):
            t = self.at(self.t + rng.randint(HOUR, 3 * DAY))
            yield from self.emit(closed_deal_item(self.ctx, self.deal, self.owner.id, t,
                                                  won=False))
        if rng.random() < 0.03:
            t = self.t + int(rng.uniform(1, 10) * DAY)
            score = {"score": rng.choice((1, 2, 2, 3, 3, 4))}
            self.later(self.fact("survey.responded", t, score, actor=None, deferrable=True))
        if self.reopened or rng.random() >= 0.1:
            self.stage = -1
            return
        self.reopened = True
        t = self.at(self.t + int(rng.uniform(5, 25) * DAY))
        data: dict[str, Any] = {}
        if stage >= 2 and rng.random() < 0.4:
            stage = rng.randint(1, stage - 1)
            data["stage"] = self.deal.stages[stage]
        yield from self.emit(self.fact("deal.reopened", t, data))
        self.stage = stage

    def win(self) -> Iterator[ScriptItem]:
        rng = self.rng
        if rng.random() < 0.2:
            self.cents = round_cents(rng, self.cents / 100 * rng.uniform(0.92, 0.99))
        signed = self.fact("contract.signed", self.t, self.money())
        yield from self.emit(signed)
        for item in aftersale_items(self.ctx, self.deal, self.owner.id, self.t, self.cents):
            cancel = item.type == "contract.cancelled"
            self.later(item, limit=self.ctx.tail_end if cancel else None)
        if self.chance(0.01, "closed_deal"):
            t = self.t + int(rng.uniform(1, 20) * DAY)
            self.later(closed_deal_item(self.ctx, self.deal, self.owner.id, t, won=True))
