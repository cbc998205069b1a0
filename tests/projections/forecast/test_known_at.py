"""`--as-known-at K` of the waterfall and accuracy reports equals the same report on a store
holding only the log recorded up to K (the worked example sent in two parts; the store under
test on SQLite and PostgreSQL, the prefix store on SQLite)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from engine.bootstrap import Engine, bootstrap
from engine.settings import Settings
from projections.forecast.accuracy_report import build_accuracy_report
from projections.forecast.waterfall_report import build_waterfall_report
from projections.report import ReportParams
from tests.projections.forecast import worked_example as ex
from tests.projections.forecast.support import end_of, forecast_runner, ingest

Builder = Callable[..., Any]


def _json(engine: Engine, builder: Builder, params: ReportParams, **options: Any
          ) -> dict[str, Any]:
    with forecast_runner(engine) as runner:
        runner.catch_up()
        with runner.engine.connect() as conn:
            doc: dict[str, Any] = builder(conn, runner.live["forecast"], params,
                                          **options).to_json()
    return doc


@pytest.mark.parametrize("cut", [20, 35, 48])
def test_as_known_at_equals_a_store_of_the_log_up_to_then(engine: Engine, tmp_path: Path,
                                                         cut: int) -> None:
    facts = ex.facts()
    ingest(engine, facts[:cut])
    known = datetime.now(UTC)
    ingest(engine, facts[cut:])
    prefix = bootstrap(Settings(db=f"sqlite:///{tmp_path}/prefix.db"))
    try:
        ingest(prefix, facts[:cut])
        t2 = end_of(ex.T2)
        asked = [
            (build_waterfall_report, t2, {"period": ex.PERIOD, "from_": end_of(ex.T1),
                                          "deals": True}),
            (build_waterfall_report, t2, {"period": ex.PERIOD, "from_": end_of(ex.T1),
                                          "by": "owner"}),
            (build_accuracy_report, end_of(ex.ACCURACY_AT), {"period": ex.PERIOD}),
        ]
        for builder, as_of, options in asked:
            then = _json(engine, builder, ReportParams(as_of=as_of, known_at=known),
                         **options)
            alone = _json(prefix, builder, ReportParams(as_of=as_of), **options)
            assert then == alone
        # and the whole log says more than its first part
        assert _json(engine, build_accuracy_report, ReportParams(
            as_of=end_of(ex.ACCURACY_AT)), period=ex.PERIOD) != alone
    finally:
        prefix.close()
