"""`dealflow report waterfall` and `report accuracy` through the console script, on the
worked example of docs/forecast.md: the JSON envelope, --to as the as-of, tables that read,
and one-line refusals naming the option (exit 2)."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest

from tests.cli.helpers import dealflow
from tests.projections.forecast import worked_example as ex

WINDOW = ("--period", ex.PERIOD, "--from", ex.T1, "--to", ex.T2)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("forecast")
    (folder / "facts.jsonl").write_bytes(
        b"\n".join(orjson.dumps(f) for f in ex.facts()) + b"\n")
    done = dealflow(folder, "ingest", "facts.jsonl", "-q")
    assert done.returncode == 0, done.stdout + done.stderr
    return folder


def test_waterfall_json_and_tables(store: Path) -> None:
    done = dealflow(store, "report", "waterfall", *WINDOW, "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    doc = json.loads(done.stdout)
    assert doc["kind"] == "report.waterfall"
    assert doc["as_of"] == doc["to"] == "2026-06-20T23:59:59.999999+08:00"  # --to
    assert [(r["currency"], r["start"], r["end"]) for r in doc["rows"]] == [
        ("CNY", "335000.00", "205000.00"), ("USD", "0.00", "30000.00")]
    assert "deals" not in doc
    table = dealflow(store, "report", "waterfall", *WINDOW, "--by", "owner", "--deals",
                     COLUMNS="80")
    assert table.returncode == 0, table.stdout + table.stderr
    assert "Waterfall of 2026-Q2 from 2026-04-10 23:59 +08:00" in table.stdout
    assert "Deals behind each term" in table.stdout
    assert "pulled_in" in table.stdout and "D-4" in table.stdout


def test_accuracy_json_and_tables(store: Path) -> None:
    done = dealflow(store, "report", "accuracy", "--period", ex.PERIOD, "--as-of",
                    ex.ACCURACY_AT, "--rep", "carol", "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    doc = json.loads(done.stdout)
    assert doc["kind"] == "report.accuracy"
    assert [c["error"] for c in doc["reps"][0]["calls"]] == ["-0.1667", "0.1667", "0.0833"]
    table = dealflow(store, "report", "accuracy", "--period", ex.PERIOD, "--as-of",
                     ex.ACCURACY_AT, COLUMNS="80")
    assert table.returncode == 0, table.stdout + table.stderr
    assert "(latest)" in table.stdout and "-16.67 %" in table.stdout  # a ratio as a percent


@pytest.mark.parametrize(("args", "message"), [
    (("waterfall", "--by", "team"), "error: --by 'team': the waterfall is broken down by "
                                     "owner only"),
    (("waterfall", "--from", "2026-07-01", "--to", "2026-06-01"), "error: --from "),
    (("waterfall", "--period", "2026-06"), "error: --period: '2026-06' is not a quarter"),
    (("waterfall", "--from", "soon"), "--from"),
    (("accuracy", "--from", "2026-04-01"), "error: report accuracy does not take --from"),
    (("forecast", "--deals"), "error: report forecast does not take --deals"),
])
def test_refusals_name_the_option(store: Path, args: tuple[str, ...], message: str) -> None:
    done = dealflow(store, "report", *args, "--as-of", "2026-06-30")
    assert done.returncode == 2
    assert message in done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
