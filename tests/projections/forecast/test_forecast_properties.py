"""The forecast report against the contract's reference model (oracle.py) on random streams,
and its two times: ``as_of`` T equals a store holding only the facts with time at or before T,
``known_at`` K equals a store holding only the log recorded by K (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from decimal import Decimal
from itertools import count
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.bootstrap import Engine
from projections.forecast import ForecastProjection, build_report
from projections.report import ReportParams
from tests.projections.forecast.oracle import Oracle, instant
from tests.projections.forecast.scenario import SCENARIO, at
from tests.projections.forecast.streams import streams
from tests.projections.forecast.support import forecast_runner, ingest

FreshEngine = Callable[[], AbstractContextManager[Engine]]
_examples = count()
_ingested: dict[str, list[dict[str, Any]]] = {}  # per store: every example's facts in it
_FIGURES = ("closed", "commit", "best_case", "pipeline", "omitted", "weighted",
            "commit_forecast", "best_case_forecast", "pipeline_forecast")


def report(engine: Engine, params: ReportParams, **options: Any) -> dict[str, Any]:
    with forecast_runner(engine) as runner:
        runner.catch_up()
        view = runner.live["forecast"]
        assert isinstance(view, ForecastProjection)
        with runner.engine.connect() as conn:
            document = build_report(conn, view, params, **options).to_json()
    document.pop("as_of")
    document.pop("known_at")
    return document


def expected_rows(oracle: Oracle, period: str, moment: datetime) -> dict[tuple[str, ...], Any]:
    """The oracle's forecast in the report's shape: (scope, name, currency) -> figures."""
    model = oracle.forecast(period, moment)
    out: dict[tuple[str, ...], Any] = {}
    for scope in ("rep", "team"):
        for name, by_currency in model[scope].items():
            for currency, row in by_currency.items():
                out[(scope, name, currency)] = tuple(row[f] for f in _FIGURES)
    for scope in ("unassigned", "total"):
        for currency, row in model[scope].items():
            out[(scope, scope, currency)] = tuple(row[f] for f in _FIGURES)
    return out


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(data=st.data())
def test_random_streams_match_the_reference_model(engine: Engine, data: st.DataObject) -> None:
    # One store for every example, each in a year of its own: earlier examples' deals are in
    # no period asked later.
    n = next(_examples)
    stream = data.draw(streams(2100 + n, f"f{n}"))
    ingest(engine, stream.facts)
    store = _ingested.setdefault(engine.app.url, [])
    store.extend(stream.facts)
    oracle = Oracle(stream.facts)
    everything = Oracle(store)  # deals with no close date are in no year: all count
    for moment in (stream.t1, stream.t2):
        document = report(engine, ReportParams(as_of=moment), period=stream.period)
        # Exact sums (JSON keeps them exact), compared as decimals.
        got = {(r["scope"], r["name"], r["currency"]): tuple(Decimal(r[f]) for f in _FIGURES)
               for r in document["rows"]}
        assert got == expected_rows(oracle, stream.period, moment)
        undated = {c: (n, amount) for c, (n, amount)
                   in everything.forecast(stream.period, moment)["no_close_date"].items()}
        assert {r["currency"]: (r["deals"], Decimal(r["amount"]))
                for r in document["no_close_date"]} == undated


def test_as_of_equals_a_store_of_the_facts_up_to_then(engine: Engine,
                                                      fresh_engine: FreshEngine) -> None:
    ingest(engine, SCENARIO)
    for moment in (at(4, 2, 12), at(4, 20, 12), at(5, 5, 9), at(6, 30, 23), at(9, 2)):
        params = ReportParams(as_of=datetime.fromisoformat(moment))
        with fresh_engine() as partial:
            ingest(partial, [f for f in SCENARIO if instant(f["time"]) <= params.as_of])
            for period in ("2026-Q1", "2026-Q2", "2026-Q3"):
                assert report(engine, params, period=period) == report(
                    partial, params, period=period), (moment, period)


def test_as_known_at_equals_a_store_of_the_log_up_to_then(engine: Engine,
                                                          fresh_engine: FreshEngine) -> None:
    # The facts arrive in three deliveries; as known between two of them, the report is the
    # one a store holding only the earlier deliveries gives (whatever the facts' times).
    cut = len(SCENARIO) // 3
    thirds = [SCENARIO[:cut], SCENARIO[cut:2 * cut], SCENARIO[2 * cut:]]
    params = ReportParams(as_of=datetime.fromisoformat(at(12, 31)))
    knowns: list[datetime] = []
    for part in thirds:
        ingest(engine, part)
        knowns.append(datetime.now(UTC))
    for i, known in enumerate(knowns[:2]):
        with fresh_engine() as partial:
            for part in thirds[: i + 1]:
                ingest(partial, part)
            for period in ("2026-Q1", "2026-Q2"):
                as_known = ReportParams(as_of=params.as_of, known_at=known)
                assert report(engine, as_known, period=period) == report(
                    partial, params, period=period), (i, period)
    # ... and it is not the report of everything known (the later deliveries count).
    assert report(engine, ReportParams(as_of=params.as_of, known_at=knowns[0]),
                  period="2026-Q2") != report(engine, params, period="2026-Q2")
