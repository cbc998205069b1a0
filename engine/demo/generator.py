"""A deterministic, lazily generated run of quarters of sales facts for ``dealflow demo``.

Each quarter has its own ``random.Random`` (no global random state, no wall clock): the first
quarter ``Random(seed)``, quarter k one seeded from (seed, k). So the same arguments give
byte-identical output, and the first quarter's lines are the same whatever the number of
quarters: more quarters only interleave more lines, each timed in its own quarter or later.

Within a quarter, deals are scripted one at a time as the clock reaches their opening, each a
lazy stream of its own facts; a heap merges the streams in time order holding only one pending
fact per deal in progress, so memory follows the number of deals open at once, not the size of
the run. The quarters' deliveries are merged by the instant each line is sent.
"""

from __future__ import annotations

import hashlib
import heapq
import os
import random
from collections.abc import Iterator
from itertools import count
from operator import itemgetter

from engine.demo.clock import DAY, HOUR, Quarter
from engine.demo.deal_script import deal_script
from engine.demo.delivery import Delivery, NoiseRates
from engine.demo.facts import FactMint, ScriptItem
from engine.demo.lines import DemoLine, GeneratedCounts
from engine.demo.noise import Noise
from engine.demo.profile import DemoContext
from engine.demo.roster import Rep, build_reps, rep_script

__all__ = ["FIRST_QUARTER", "generate", "generate_lines", "write_jsonl"]

FIRST_QUARTER = "2026-Q1"
"""Where the demo starts unless told otherwise."""

_AFTER_HOURS = 0.06  # share of deals opened in the evening (web forms, partner portal)
_TAIL = 20 * DAY  # late cancellations may fall this long after the quarter


def generate_lines(
    seed: int = 7,
    *,
    deals: int = 5000,
    quarter: str = FIRST_QUARTER,
    quarters: int = 1,
    reps: int = 12,
    counts: GeneratedCounts | None = None,
    rates: NoiseRates | None = None,
) -> Iterator[DemoLine]:
    """``quarters`` consecutive quarters from ``quarter`` (the same reps, teams and accounts,
    ``deals`` opened in each), each line labelled good / duplicate / bad; ``counts`` fills as
    it goes.

    The first quarter's lines are the same bytes in the same order whatever ``quarters`` is;
    a later quarter's facts are all timed at or after its start. A line's ``late`` label is
    judged within its own quarter's deliveries.
    """
    if deals < 0:
        raise ValueError("deals must not be negative")
    if quarters < 1:
        raise ValueError("quarters must be at least 1")
    first = Quarter.parse(quarter)
    team = build_reps(reps)
    counts = counts if counts is not None else GeneratedCounts()
    runs = [_quarter_lines(_quarter_seed(seed, k), first.after(k), team, deals, counts, rates,
                           later=k > 0)
            for k in range(quarters)]
    # Ties go to the earlier quarter, so quarter 1 also wins the ties it had with itself.
    for _, line in heapq.merge(*runs, key=itemgetter(0)):
        counts.record(line)
        yield line


def generate(
    seed: int = 7,
    *,
    deals: int = 5000,
    quarter: str = FIRST_QUARTER,
    quarters: int = 1,
    reps: int = 12,
    counts: GeneratedCounts | None = None,
) -> Iterator[bytes]:
    """One JSON line per fact (bytes, no trailing newline); ``counts`` fills as it goes.

    About 12 lines per deal and quarter: ``deals=5000`` gives some 60,000 lines a quarter,
    ``deals=83000`` about a million. Same arguments, same bytes.
    """
    for line in generate_lines(seed, deals=deals, quarter=quarter, quarters=quarters,
                               reps=reps, counts=counts):
        yield line.raw


def write_jsonl(
    path: str | os.PathLike[str],
    seed: int = 7,
    deals: int = 5000,
    *,
    quarter: str = FIRST_QUARTER,
    quarters: int = 1,
    reps: int = 12,
) -> GeneratedCounts:
    """Write the quarters to ``path`` as JSON Lines; return the final counts."""
    counts = GeneratedCounts()
    with open(path, "wb") as out:
        for raw in generate(seed, deals=deals, quarter=quarter, quarters=quarters, reps=reps,
                            counts=counts):
            out.write(raw + b"\n")
    return counts


def _quarter_seed(seed: int, index: int) -> int:
    """Quarter ``index``'s seed: the first keeps ``seed`` itself, so its lines are those of a
    one-quarter run; later ones get independent streams (sha256, not ``hash``, which varies
    between processes)."""
    if index == 0:
        return seed
    digest = hashlib.sha256(f"dealflow-demo:{seed}:{index}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def _quarter_lines(
    seed: int,
    period: Quarter,
    team: tuple[Rep, ...],
    deals: int,
    counts: GeneratedCounts,
    rates: NoiseRates | None,
    *,
    later: bool,
) -> Iterator[tuple[int, DemoLine]]:
    """One quarter's delivered lines, each with the instant it is sent (never decreasing).

    The quarter's delivery keeps counts of its own (its noise schedule depends on them), so
    another quarter's lines never change this one's; ``counts`` only learns of deals started.
    """
    rng = random.Random(seed)
    mint = FactMint(period.tag, tag_bad_ids=later)
    ctx = DemoContext(rng, mint, period, team, max(50, deals // 3), period.end + _TAIL)
    delivery = Delivery(rng, Noise(rng, mint), GeneratedCounts(), rates)
    for item in _time_ordered(ctx, deals, counts):
        for line in delivery.feed(item):
            yield delivery.sent_at, line
    for line in delivery.finish():
        yield delivery.sent_at, line


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
