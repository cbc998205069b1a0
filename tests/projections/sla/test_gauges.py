"""The SLA counts /metrics exports (``projections.sla.gauges``): refreshed incrementally,
they equal the counts of a full SLA report as of the same time, whatever the facts, their
order, late deliveries, escalations and the clock do; a refresh evaluates only the deals
that changed. On SQLite and PostgreSQL."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import datetime

import hypothesis.strategies as st
from hypothesis import HealthCheck, given, settings

from projections.sla.gauges import SlaCounts, SlaGauges
from projections.sla.report import SlaTally
from tests.engine.conftest import send
from tests.engine.facts import fact, opened
from tests.projections.sla.conftest import SlaHarness
from tests.projections.sla.scripts import Script, render, replay, scripts

_runs = itertools.count()
_SETTINGS = settings(max_examples=12, deadline=None, database=None,
                     suppress_health_check=[HealthCheck.too_slow,
                                            HealthCheck.function_scoped_fixture])


def at(text: str) -> datetime:
    """An aware datetime from RFC 3339 text."""
    return datetime.fromisoformat(text)


def refresh(sla: SlaHarness, counts: SlaCounts, now: datetime) -> SlaGauges:
    sla.runner.catch_up()
    with sla.runner.engine.connect() as conn:
        return counts.refresh(conn, sla.view, now)


def full(sla: SlaHarness, now: datetime) -> SlaTally:
    """The counts of the full report as of ``now``."""
    return SlaTally.of(sla.instances(now))


def same(found: SlaGauges, expected: SlaTally) -> None:
    assert found.tally.counts == expected.counts
    assert found.tally.overdue == expected.overdue
    assert found.tally.escalations == expected.escalations


def test_a_refresh_evaluates_only_the_deals_that_changed(sla: SlaHarness) -> None:
    # first_contact: 9 business hours, so each is due the next working day at 10:00.
    send(sla.engine, opened("D-1", time="2026-01-05T10:00:00+08:00"),
         opened("D-2", time="2026-01-06T10:00:00+08:00"),
         opened("D-3", time="2026-01-07T10:00:00+08:00"))
    counts = SlaCounts()
    first = refresh(sla, counts, at("2026-01-05T12:00:00+08:00"))
    assert (first.full, first.deals) == (True, 3)
    same(first, full(sla, at("2026-01-05T12:00:00+08:00")))
    quiet = refresh(sla, counts, at("2026-01-06T09:00:00+08:00"))
    assert (quiet.full, quiet.deals) == (False, 0)  # no deadline passed, nothing arrived
    # D-1's first contact passed its deadline; D-2's opening came into view (a fact timed
    # after the last refresh), D-3's is still ahead.
    later = refresh(sla, counts, at("2026-01-06T10:30:00+08:00"))
    assert later.deals == 2
    same(later, full(sla, at("2026-01-06T10:30:00+08:00")))
    assert {(c.rule, c.breached, c.open) for c in later.tally.counts} >= {
        ("first_contact", 1, 1)}
    send(sla.engine, fact("activity.logged", "D-3", {"kind": "call"},
                          time="2026-01-06T11:30:00+08:00"))
    arrived = refresh(sla, counts, at("2026-01-06T13:00:00+08:00"))
    assert arrived.deals == 1  # D-3: a fact arrived
    same(arrived, full(sla, at("2026-01-06T13:00:00+08:00")))
    back = refresh(sla, counts, at("2026-01-06T12:00:00+08:00"))  # the clock went back
    assert back.full
    same(back, full(sla, at("2026-01-06T12:00:00+08:00")))


def test_incremental_counts_equal_a_full_report_at_every_refresh(
        make_sla: Callable[..., SlaHarness]) -> None:
    sla = make_sla(batch_size=4)  # the shipped workflows: escalation ladders included
    timer = sla.timer()

    @_SETTINGS
    @given(deals=st.lists(scripts(), min_size=1, max_size=3), chunk=st.integers(1, 8),
           start=st.integers(0, 30 * 24 * 60),
           steps=st.lists(st.integers(-2 * 60, 6 * 24 * 60), min_size=2, max_size=8),
           tick=st.booleans())
    def check(deals: list[Script], chunk: int, start: int, steps: list[int],
              tick: bool) -> None:
        run = next(_runs)
        counts = SlaCounts()
        facts = [f for n, deal in enumerate(deals)
                 for f in render(deal, f"G{run}-{n}", deal.with_late())]
        for now in replay(lambda batch: send(sla.engine, *batch), facts, chunk, start, steps):
            if tick:  # escalations and ladder steps in the log too
                timer.tick(now)
            same(refresh(sla, counts, now), full(sla, now))

    check()
