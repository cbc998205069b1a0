"""Hypothesis over random valid fact streams (tests/projections/pipeline/streams.py), on
SQLite and PostgreSQL: the KPI view is the same for any batch boundaries and after a
rebuild; KPIs (and the pipeline) do not depend on facts arriving late; as of an earlier
time they equal the KPIs of only the facts that had happened by then."""

from __future__ import annotations

from datetime import timedelta

import hypothesis.strategies as st
from hypothesis import HealthCheck, given, settings

from projections import kpi, pipeline
from projections.kpi import KpiProjection
from projections.pipeline import PipelineProjection
from projections.report import ReportParams
from tests.projections.pipeline.conftest import FreshEngine
from tests.projections.pipeline.streams import BASE, StreamSpec, streams
from tests.projections.pipeline.support import (
    close_runner,
    deliver,
    dump,
    open_runner,
    report,
)


def _settings(store_url: str) -> settings:
    return settings(max_examples=25 if store_url.startswith("sqlite") else 8, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


def test_batches_and_rebuild_give_identical_tables(fresh_engine: FreshEngine,
                                                   store_url: str) -> None:
    @_settings(store_url)
    @given(spec=streams, cut=st.integers(0, 80), batch=st.integers(1, 6))
    def check(spec: StreamSpec, cut: int, batch: int) -> None:
        facts = spec.in_order("T")
        with fresh_engine() as engine:
            live = open_runner(engine, [KpiProjection], batch)
            try:
                deliver(engine, facts[:cut])
                live.catch_up()
                deliver(engine, facts[cut:])
                live.catch_up()
                small = dump(live)
            finally:
                close_runner(live)
            whole = open_runner(engine, [KpiProjection], 10_000)
            try:
                whole.rebuild()
                assert dump(whole) == small
            finally:
                close_runner(whole)

    check()


def test_late_facts_change_nothing(fresh_engine: FreshEngine, store_url: str) -> None:
    """Extra activities, surveys, payments and quotas delivered after later-timed facts."""
    views = [KpiProjection, PipelineProjection]

    @_settings(store_url)
    @given(spec=streams)
    def check(spec: StreamSpec) -> None:
        with fresh_engine() as in_order, fresh_engine() as late:
            deliver(in_order, spec.in_order("T"))
            deliver(late, spec.late("T"))
            a, b = open_runner(in_order, views, 40), open_runner(late, views, 40)
            try:
                a.catch_up()
                b.catch_up()
                assert report(a, "kpis", kpi.build_report) == report(b, "kpis",
                                                                     kpi.build_report)
                assert report(a, "pipeline", pipeline.build_report) == report(
                    b, "pipeline", pipeline.build_report)
            finally:
                close_runner(a)
                close_runner(b)

    check()


def test_as_of_equals_the_facts_that_had_happened(fresh_engine: FreshEngine,
                                                  store_url: str) -> None:
    @_settings(store_url)
    @given(spec=streams, hours=st.integers(0, 24 * 150))
    def check(spec: StreamSpec, hours: int) -> None:
        cut = BASE + timedelta(hours=hours)
        with fresh_engine() as everything, fresh_engine() as before:
            deliver(everything, spec.in_order("T"))
            deliver(before, spec.until("T", cut))
            a = open_runner(everything, [KpiProjection], 40)
            b = open_runner(before, [KpiProjection], 40)
            try:
                a.catch_up()
                b.catch_up()
                assert report(a, "kpis", kpi.build_report, ReportParams(as_of=cut)) == report(
                    b, "kpis", kpi.build_report)
            finally:
                close_runner(a)
                close_runner(b)

    check()
