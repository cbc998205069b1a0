"""The point of first-quarter stability: every report asked for the first quarter, as of its
end, gives the same figures on a store of one quarter and on a store of three."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

from engine.bootstrap import bootstrap
from engine.demo import generate
from engine.ingest.batch import RawInput
from engine.settings import Settings
from projections.registry import REPORTS, build
from projections.report import ReportParams
from tests.demo.test_quarters import FIRST_END

# How a report was computed, not what it says: the pipeline report reads its current-state
# tables when nothing happened after as_of, else folds history. A bigger store says "history".
HOW = {"source"}


def _reports(db: Path, quarters: int) -> dict[str, dict[str, Any]]:
    engine = bootstrap(Settings(db=f"sqlite:///{db}"))
    try:
        lines = list(generate(5, deals=150, quarters=quarters))
        for start in range(0, len(lines), 500):
            engine.ingestor.ingest([RawInput(raw, f"q:{start + i}")
                                    for i, raw in enumerate(lines[start : start + 500])])
        runner = engine.runner()
        runner.catch_up()
        params = ReportParams(as_of=FIRST_END)
        results = {}
        with runner.engine.connect() as conn:
            for name, (_, builder) in REPORTS.items():
                options = {"period": "2026-Q1"} if "period" in inspect.signature(
                    builder).parameters else {}
                result = build(name, conn, runner.live, params, **options).to_json()
                results[name] = {k: v for k, v in result.items() if k not in HOW}
        runner.stop()
        return results
    finally:
        engine.close()


def test_first_quarter_reports_are_the_same_with_more_quarters(tmp_path: Path) -> None:
    one = _reports(tmp_path / "one.db", 1)
    three = _reports(tmp_path / "three.db", 3)
    assert set(one) == set(REPORTS)
    for name in REPORTS:
        assert one[name] == three[name], name
