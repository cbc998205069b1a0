"""A deterministic, lazily generated quarter of sales facts for ``dealflow demo``.

One ``random.Random(seed)`` drives everything (no global random state, no wall clock), so the
same arguments give byte-identical output. Deals are scripted one at a time as the clock
reaches their opening, each a lazy stream of its own facts; a heap merges the streams in time
order holding only one pending fact per deal in progress, so memory follows the number of
deals open at once, not the size of the quarter.
"""

from __future__ import annotations

import heapq
import os
import random
from collections.abc import Iterator
from itertools import count

from engine.demo.clock import DAY, HOUR, Quarter
from engine.demo.deal_script import deal_script
from engine.demo.delivery import Delivery, NoiseRates
from engine.demo.facts import FactMint, ScriptItem
from engine.demo.lines import DemoLine, GeneratedCounts
from engine.demo.noise import Noise
from engine.demo.profile import DemoContext
from engine.demo.roster import build_reps, rep_script

__all__ = ["generate", "generate_lines", "write_jsonl"]

_AFTER_HOURS = 0.06  # share of deals opened in the evening (web forms, partner portal)
_TAIL = 20 * DAY  # late cancellations may fall this long after the quarter


def generate_lines(
    seed: int = 7,
    *,
    deals: int = 5000,
    quarter: str = "2026-Q1",
    reps: int = 12,
    counts: GeneratedCounts | None = None,
    rates: NoiseRates | None = None,
) -> Iterator[DemoLine]:
    """The quarter's lines, each labelled good / duplicate / bad; ``counts`` fills as it goes."""
    if deals < 0:
        raise ValueError("deals must not be negative")
    period = Quarter.parse(quarter)
    rng = random.Random(seed)
    mint = FactMint(period.tag)
    ctx = DemoContext(rng, mint, period, build_reps(reps), max(50, deals // 3), period.end + _TAIL)
    counts = counts if counts is not None else GeneratedCounts()
    delivery = Delivery(rng, Noise(rng, mint), counts, rates)
    for item in _time_ordered(ctx, deals, counts):
        yield from delivery.feed(item)
    yield from delivery.finish()


def generate(
    seed: int = 7,
    *,
    deals: int = 5000,
    quarter: str = "2026-Q1",
    reps: int = 12,
    counts: GeneratedCounts | None = None,
) -> Iterator[bytes]:
    """One JSON line per fact (bytes, no trailing newline); ``counts`` fills as it goes.

    About 12 lines per deal: ``deals=5000`` gives some 60,000 lines, ``deals=83000`` about a
    million. Same arguments, same bytes.
    """
    for line in generate_lines(seed, deals=deals, quarter=quarter, reps=reps, counts=counts):
        yield line.raw


def write_jsonl(
    path: str | os.PathLike[str],
    seed: int = 7,
    deals: int = 5000,
    *,
    quarter: str = "2026-Q1",
    reps: int = 12,
) -> GeneratedCounts:
    """Write the quarter to ``path`` as JSON Lines; return the final counts."""
    counts = GeneratedCounts()
    with open(path, "wb") as out:
        for raw in generate(seed, deals=deals, quarter=quarter, reps=reps, counts=counts):
            out.write(raw + b"\n")
    return counts


def _openings(ctx: DemoContext, deals: int) -> Iterator[tuple[int, int]]:
    """(lower bound, opening instant) per deal; the lower bounds never decrease."""
    rng, period = ctx.rng, ctx.quarter
    for number in range(deals):
        base = period.business_instant((number + rng.random()) / deals)
        if rng.random() < _AFTER_HOURS:
            yield base, period.evening(base, rng.randint(0, 5 * HOUR))
        else:
            yield base, base


def _time_ordered(
    ctx: DemoContext, deals: int, counts: GeneratedCounts
) -> Iterator[ScriptItem]:
    """All scripts merged by time; a deal is started only once the clock reaches it."""
    heap: list[tuple[int, int, ScriptItem, Iterator[ScriptItem]]] = []
    order = count()

    def advance(script: Iterator[ScriptItem]) -> None:
        item = next(script, None)
        if item is not None:
            heapq.heappush(heap, (item.time, next(order), item, script))

    advance(rep_script(ctx.rng, ctx.mint, ctx.quarter, ctx.reps, deals))
    openings = _openings(ctx, deals)
    upcoming = next(openings, None)
    number = 0
    while heap or upcoming is not None:
        # Every deal not yet started opens at or after its lower bound, so nothing it will
        # ever emit can come before the heap's head once the bound has passed the head.
        while upcoming is not None and (not heap or upcoming[0] <= heap[0][0]):
            number += 1
            counts.deals_started += 1
            advance(deal_script(ctx, number, upcoming[1]))
            upcoming = next(openings, None)
        if heap:
            _, _, item, script = heapq.heappop(heap)
            yield item
            advance(script)
