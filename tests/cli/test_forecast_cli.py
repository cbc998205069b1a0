"""`dealflow report forecast` through the real console script: the JSON envelope and rows of
the hand-built scenario, the tables, filters, and a bad ``--period`` named (exit 2)."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest

from tests.cli.helpers import dealflow
from tests.projections.forecast.scenario import SCENARIO


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("forecast")
    (folder / "facts.jsonl").write_bytes(b"\n".join(orjson.dumps(f) for f in SCENARIO) + b"\n")
    done = dealflow(folder, "ingest", "facts.jsonl", "-q")
    assert done.returncode == 0, done.stdout + done.stderr
    return folder


def test_json_rows(store: Path) -> None:
    done = dealflow(store, "report", "forecast", "--period", "2026-Q2", "--as-of",
                    "2026-06-30", "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    document = json.loads(done.stdout)
    assert document["kind"] == "report.forecast"
    assert document["period"] == "2026-Q2"
    total = next(r for r in document["rows"] if r["scope"] == "total" and r["currency"] == "CNY")
    assert (total["closed"], total["commit_forecast"], total["pipeline_forecast"]) == (
        "22000.00", "37000.00", "40000.00")
    assert document["no_close_date"] == [{"currency": "CNY", "deals": 1, "amount": "700.00"}]


def test_tables_and_filters(store: Path) -> None:
    done = dealflow(store, "report", "forecast", "--period", "2026-Q2", "--as-of",
                    "2026-06-30", "--team", "west")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Forecast 2026-Q2" in done.stdout
    assert "rep-b" in done.stdout and "rep-a" not in done.stdout
    assert "4,800.00 CNY" in done.stdout


def test_a_bad_period_is_named(store: Path) -> None:
    done = dealflow(store, "report", "forecast", "--period", "2026-13", "--as-of",
                    "2026-06-30")
    assert done.returncode == 2
    assert "--period: '2026-13' is not a quarter like 2026-Q1" in done.stdout


def test_a_filter_the_forecast_does_not_take_is_refused(store: Path) -> None:
    done = dealflow(store, "report", "forecast", "--deal", "D1")
    assert done.returncode == 2
    assert "report forecast does not take --deal" in done.stdout
