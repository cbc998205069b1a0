"""Hypothesis over random valid fact streams, on SQLite and PostgreSQL: SLA instances are
judged by ``time`` (late delivery and other offsets change nothing); the view's tables are
the same for any batch boundaries, live or rebuilt, escalations included."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import timedelta, timezone

import hypothesis.strategies as st
from hypothesis import HealthCheck, given, settings

from tests.engine.conftest import send
from tests.projections.sla.conftest import SlaHarness
from tests.projections.sla.scripts import BASE, ZONES, Script, normalised, render, scripts

_runs = itertools.count()
_SETTINGS = settings(max_examples=10, deadline=None, database=None,
                     suppress_health_check=[HealthCheck.too_slow,
                                            HealthCheck.function_scoped_fixture])
deal_sets = st.lists(scripts(), min_size=1, max_size=3)


def test_late_delivery_and_offsets_give_identical_instances(sla: SlaHarness) -> None:
    @_SETTINGS
    @given(deals=deal_sets, zones=st.lists(st.sampled_from(ZONES), min_size=1, max_size=6),
           as_of=st.integers(0, 40 * 24 * 60))
    def check(deals: list[Script], zones: list[timezone], as_of: int) -> None:
        run = next(_runs)
        in_order = {f"A{run}-{n}": n for n in range(len(deals))}
        late = {f"B{run}-{n}": n for n in range(len(deals))}
        a = [f for (s, n) in in_order.items() for f in render(deals[n], s,
                                                                deals[n].in_time_order())]
        b = [f for (s, n) in late.items() for f in render(deals[n], s, deals[n].with_late(),
                                                            zones)]
        assert send(sla.engine, *a).accepted == len(a)
        assert send(sla.engine, *b).accepted == len(b)
        end = max(d.last_minute for d in deals) + 60 * 24 * 60
        for minute in (as_of, end):
            found = sla.instances(BASE + timedelta(minutes=minute))
            assert normalised(found, in_order) == normalised(found, late)

    check()


def test_any_batches_live_or_rebuilt_give_identical_tables(
        make_sla: Callable[..., SlaHarness]) -> None:
    sla = make_sla(batch_size=3)
    timer = sla.timer()

    @_SETTINGS
    @given(deals=deal_sets, chunk=st.integers(1, 6), batch=st.integers(1, 4),
           tick=st.integers(0, 40 * 24 * 60))
    def check(deals: list[Script], chunk: int, batch: int, tick: int) -> None:
        run = next(_runs)
        facts = [f for n, deal in enumerate(deals)
                 for f in render(deal, f"C{run}-{n}", deal.with_late())]
        sla.runner.batch_size = batch
        for start in range(0, len(facts), chunk):  # live: small sends, small batches
            send(sla.engine, *facts[start:start + chunk])
            sla.runner.run_once()
            if start == 0:
                timer.tick(BASE + timedelta(minutes=tick))  # escalations go into the log
        timer.tick(BASE + timedelta(minutes=tick + 24 * 60))
        sla.runner.catch_up()
        as_of = BASE + timedelta(minutes=tick)
        live, live_instances = sla.dump(), sla.instances(as_of)
        sla.runner.batch_size = 1000  # the rebuild: one batch
        sla.runner.rebuild()
        assert sla.dump() == live
        assert sla.instances(as_of) == live_instances

    check()
