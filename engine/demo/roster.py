"""The sales team of the demo quarter and its facts: quotas, plan assignments, routing
profiles (``rep.profile_set``) and the reps' forecast calls (``forecast.submitted``)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass

from engine.demo.clock import DAY, MINUTE, Quarter, business_start, local_date
from engine.demo.facts import FactMint, ScriptItem, cents_text
from engine.demo.vocab import PLAN, TEAMS

__all__ = ["EXPECTED_WON_CNY_PER_DEAL", "Rep", "build_reps", "rep_script", "territory_of"]

# Roughly what one opened deal brings in won CNY over a quarter (win rate x mean amount);
# used to size quotas so that attainment spreads around 100 %.
EXPECTED_WON_CNY_PER_DEAL = 50_000
_MANAGER = "sales-ops"


@dataclass(frozen=True, slots=True)
class Rep:
    """A sales rep: ``rep-01`` ... and the team it belongs to."""

    id: str
    team: str


def build_reps(count: int) -> tuple[Rep, ...]:
    """``count`` reps, the first half in ``team-north``, the rest in ``team-south``."""
    if count < 2:
        raise ValueError("the demo needs at least 2 reps (two teams, split deals)")
    width = max(2, len(str(count)))
    half = (count + 1) // 2
    return tuple(
        Rep(f"rep-{n:0{width}d}", TEAMS[0] if n <= half else TEAMS[1])
        for n in range(1, count + 1)
    )


def territory_of(team: str) -> str:
    """The territory a demo team covers: ``team-north`` -> ``north``."""
    return team.removeprefix("team-")


def _profile(mint: FactMint, t: int, rep: Rep, reps: tuple[Rep, ...], deals: int, *,
             active: bool = True) -> ScriptItem:
    """The rep's routing profile: its team and territory; the first rep of a team leads it
    (the others' manager) and takes high-value and potential deals only; the last rep of
    each team is part-time, with a small capacity."""
    mates = [r for r in reps if r.team == rep.team]
    data: dict[str, object] = {"team": rep.team, "territories": [territory_of(rep.team)]}
    if rep == mates[0]:
        data["segments"] = ["high_value", "potential"]
    else:
        data["manager"] = mates[0].id
    if rep == mates[-1] and len(mates) > 2:
        data["capacity"] = max(3, deals // (len(reps) * 6))
    if not active:
        data["active"] = False
    return mint.item("rep.profile_set", t, rep.id, _MANAGER, data)


def _round_quota(cents: int) -> int:
    step = 10_000_00  # whole 10,000 CNY
    return max(step, (cents + step // 2) // step * step)


def rep_script(
    rng: random.Random, mint: FactMint, quarter: Quarter, reps: tuple[Rep, ...], deals: int
) -> Iterator[ScriptItem]:
    """Quotas, plans and forecast calls, in time order: quotas, plans and a first call before
    the first business hour of the quarter; a revised call at the mid-quarter review and most
    reps' last call two weeks before the end.

    Most reps get a quarterly quota; some also monthly ones; two get monthly quotas only (the
    quarter then uses their sum); one rep's quarterly quota is revised mid-quarter (the latest
    by time wins).
    """
    per_rep = deals * EXPECTED_WON_CNY_PER_DEAL * 100 // len(reps)
    t = quarter.start + 8 * 60 * MINUTE  # 08:00 on the first day, before anyone opens a deal
    revised: list[tuple[Rep, int]] = []
    quotas: list[tuple[Rep, int]] = []
    effective = local_date(quarter.start).isoformat()
    for index, rep in enumerate(reps):
        quota = _round_quota(int(per_rep * rng.uniform(0.7, 1.3)))
        monthly_only = index in (2, len(reps) - 1)
        if not monthly_only:
            t += rng.randint(5, 40)
            yield _quota(mint, t, rep, quarter.label, quota)
        if monthly_only or index % 3 == 0:
            for month in quarter.months:
                t += rng.randint(5, 40)
                yield _quota(mint, t, rep, month, _round_quota(quota // 3))
        t += rng.randint(5, 40)
        data = {"plan": PLAN, "effective_from": effective}
        yield mint.item("rep.plan_assigned", t, rep.id, _MANAGER, data)
        t += rng.randint(5, 40)
        yield _profile(mint, t, rep, reps, deals)
        t += rng.randint(5, 40)
        yield _call(mint, t, rep, quarter.label, int(quota * rng.uniform(0.8, 1.2)))
        quotas.append((rep, quota))
        if index == 1:
            revised.append((rep, _round_quota(quota * 9 // 10)))
    when = business_start(quarter.start + 45 * DAY) + 60 * MINUTE  # mid-quarter review
    for rep, quota in revised:
        yield _quota(mint, when, rep, quarter.label, quota)
    # Mid-quarter one rep goes on leave: routing skips it from then on.
    yield _profile(mint, when, reps[1], reps, deals, active=False)
    for moment, share in ((when + 60 * MINUTE, 0.6), (
            business_start(quarter.end - 14 * DAY) + 60 * MINUTE, 0.8)):
        for rep, quota in quotas:
            moment += rng.randint(5, 40)
            if rng.random() < share:
                yield _call(mint, moment, rep, quarter.label,
                            int(quota * rng.uniform(0.7, 1.15)))


def _call(mint: FactMint, t: int, rep: Rep, period: str, cents: int) -> ScriptItem:
    # The rep's own call on its closed-won credit for the quarter, in whole hundreds.
    data = {"period": period, "amount": cents_text(cents // 100_00 * 100_00), "currency": "CNY"}
    return mint.item("forecast.submitted", t, rep.id, rep.id, data)


def _quota(mint: FactMint, t: int, rep: Rep, period: str, cents: int) -> ScriptItem:
    data = {"period": period, "amount": cents_text(cents), "currency": "CNY", "team": rep.team}
    return mint.item("rep.quota_set", t, rep.id, _MANAGER, data)
