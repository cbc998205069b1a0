"""The waterfall report through the real path (facts -> ingest -> forecast view -> report),
on SQLite and PostgreSQL: the worked example of docs/forecast.md figure by figure, and
random streams against the reference model (each label, each row, the identity)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from itertools import count
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.bootstrap import Engine
from engine.errors import ForecastIdentityError, ReportOptionError
from projections.forecast.waterfall import TERMS, WaterfallRow, check_identity
from projections.forecast.waterfall_report import build_waterfall_report
from projections.report import ReportParams
from tests.projections.forecast import worked_example as ex
from tests.projections.forecast.oracle import ZONE, Oracle
from tests.projections.forecast.streams import Stream, moved, streams
from tests.projections.forecast.support import end_of, forecast_runner, ingest

FIGURES = ("start", *TERMS, "end")


def _waterfall(engine: Engine, period: str, t1: Any, t2: Any, *,
               known_at: datetime | None = None, **options: Any) -> dict[str, Any]:
    with forecast_runner(engine) as runner:
        runner.catch_up()
        with runner.engine.connect() as conn:
            report = build_waterfall_report(conn, runner.live["forecast"],
                                            ReportParams(as_of=t2, known_at=known_at),
                                            period=period, from_=t1, **options)
    return report.to_json()


def _rows(doc: dict[str, Any]) -> dict[tuple[str, ...], dict[str, str]]:
    by_owner = doc["by"] == "owner"
    return {((r["owner"] or "unassigned", r["currency"]) if by_owner else (r["currency"],)):
            {f: r[f] for f in FIGURES} for r in doc["rows"]}


def test_worked_example(engine: Engine) -> None:
    ingest(engine, ex.facts())
    doc = _waterfall(engine, ex.PERIOD, end_of(ex.T1), end_of(ex.T2), deals=True)
    assert doc["labels"] == {"stayed": 2, "new": 1, "pulled_in": 1, "pushed": 1, "won": 2,
                             "lost": 1}
    rows = _rows(doc)
    assert rows[("CNY",)] == {
        "start": "335000.00", "new": "40000.00", "pulled_in": "0.00", "increased": "20000.00",
        "decreased": "15000.00", "pushed": "50000.00", "won": "100000.00", "lost": "25000.00",
        "end": "205000.00"}
    assert {f: Decimal(v) for f, v in rows[("USD",)].items()} == {
        **dict.fromkeys(FIGURES, Decimal(0)), "pulled_in": Decimal(30000),
        "end": Decimal(30000)}
    behind = {(d["term"], d["deal"]): (d["amount"], d["currency"]) for d in doc["deals"]}
    assert behind == {
        ("new", "D-5"): ("40000.00", "CNY"), ("pulled_in", "D-4"): ("30000.00", "USD"),
        ("increased", "D-1"): ("20000.00", "CNY"), ("decreased", "D-7"): ("15000.00", "CNY"),
        ("pushed", "D-2"): ("50000.00", "CNY"), ("won", "D-3"): ("80000.00", "CNY"),
        ("won", "D-9"): ("20000.00", "CNY"), ("lost", "D-6"): ("25000.00", "CNY")}

    owners = _rows(_waterfall(engine, ex.PERIOD, end_of(ex.T1), end_of(ex.T2), by="owner"))
    assert sorted(owners) == [("alice", "CNY"), ("alice", "USD"), ("bob", "CNY"),
                              ("carol", "CNY"), ("dave", "CNY")]
    assert {f: Decimal(v) for f, v in owners[("bob", "CNY")].items()} == {
        "start": 95000, "new": 0, "pulled_in": 0, "increased": 45000, "decreased": 0,
        "pushed": 50000, "won": 20000, "lost": 25000, "end": 45000}
    assert {f: Decimal(v) for f, v in owners[("carol", "CNY")].items()} == {
        "start": 140000, "new": 0, "pulled_in": 0, "increased": 0, "decreased": 60000,
        "pushed": 0, "won": 80000, "lost": 0, "end": 0}


def test_a_row_that_does_not_add_up_is_named_as_a_bug() -> None:
    good = WaterfallRow("CNY", start=Decimal(10), end=Decimal(15))
    good.terms["new"] = Decimal(5)
    bad = WaterfallRow("USD", owner="alice", start=Decimal(10), end=Decimal(11))
    check_identity("2026-Q2", [good])
    with pytest.raises(ForecastIdentityError, match=r"2026-Q2 \(owner alice, USD\).*bug"):
        check_identity("2026-Q2", [good, bad])


def test_defaults_are_the_quarter_of_as_of_from_its_start(engine: Engine) -> None:
    ingest(engine, ex.facts())
    with forecast_runner(engine) as runner:
        runner.catch_up()
        with runner.engine.connect() as conn:
            got = build_waterfall_report(conn, runner.live["forecast"],
                                         ReportParams(as_of=end_of(ex.T2))).to_json()
    assert (got["period"], got["from"]) == ("2026-Q2", "2026-04-01T00:00:00+08:00")
    assert got["to"] == end_of(ex.T2).isoformat()
    assert got == _waterfall(engine, "2026-Q2", datetime(2026, 4, 1, tzinfo=ZONE),
                             end_of(ex.T2))


@pytest.mark.parametrize(("options", "named"), [
    ({"period": "2026-05"}, "--period"), ({"by": "team"}, "--by"),
    ({"from_": end_of("2026-07-01")}, "--from"),
])
def test_bad_options_are_named(engine: Engine, options: dict[str, Any], named: str) -> None:
    asked: dict[str, Any] = {"period": "2026-Q2", "from_": end_of("2026-04-01"), **options}
    with forecast_runner(engine) as runner, runner.engine.connect() as conn, \
            pytest.raises(ReportOptionError, match=named):
        build_waterfall_report(conn, runner.live["forecast"],
                               ReportParams(as_of=end_of("2026-06-30")), **asked)


_examples = count()


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(data=streams(2030, "s"), cut=st.integers(0, 100))
def test_random_streams_match_the_reference_model(engine: Engine, data: Stream,
                                                  cut: int) -> None:
    # One store for every example: each goes into a year of its own, so the deals of
    # earlier examples are in no period asked later.
    n = next(_examples)
    year = 2030 + n
    stream = moved(data, n, year)
    # Sent in two parts: as known between them, the report must be the reference model's
    # reading of the first part alone (a store holding only the log up to then).
    first = stream.facts[:len(stream.facts) * cut // 100]
    ingest(engine, first)
    between = datetime.now(UTC)
    ingest(engine, stream.facts[len(first):])
    _check(engine, stream, Oracle(stream.facts), None)
    _check(engine, stream, Oracle(first), between)


def _check(engine: Engine, stream: Stream, oracle: Oracle, known_at: datetime | None
           ) -> None:
    """Each label, each row (per currency, then per owner), the identity on every row
    and the deals behind the terms, against ``oracle``."""
    labels = oracle.labels(stream.period, stream.t1, stream.t2)
    for by_owner in (False, True):
        doc = _waterfall(engine, stream.period, stream.t1, stream.t2, deals=True,
                         known_at=known_at, **({"by": "owner"} if by_owner else {}))
        assert doc["labels"] == _label_counts(labels)
        expected = oracle.waterfall(stream.period, stream.t1, stream.t2, by_owner=by_owner)
        got = {key: {f: Decimal(v) for f, v in row.items()} for key, row in _rows(doc).items()}
        assert got == {k: v for k, v in expected.items() if any(v.values())}
        for row in got.values():  # the identity, from the JSON as printed
            assert row["end"] == (row["start"] + row["new"] + row["pulled_in"]
                                  + row["increased"] - row["decreased"] - row["pushed"]
                                  - row["won"] - row["lost"])
        assert {d["deal"]: d["label"] for d in doc["deals"]} == {
            k: v for k, v in labels.items() if v != "stayed" or _changed(oracle, stream, k,
                                                                       by_owner)}


def _changed(oracle: Oracle, stream: Stream, subject: str, by_owner: bool) -> bool:
    a = oracle.deal(subject, stream.t1)
    b = oracle.deal(subject, stream.t2)
    assert a is not None and b is not None
    return (a.amount, a.currency, a.owner if by_owner else None) != (
        b.amount, b.currency, b.owner if by_owner else None)


def _label_counts(labels: dict[str, str]) -> dict[str, int]:
    counts = dict.fromkeys(("stayed", "new", "pulled_in", "pushed", "won", "lost"), 0)
    for label in labels.values():
        counts[label] += 1
    return counts
