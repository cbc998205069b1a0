"""`dealflow report` through the real console script: filters apply where docs/cli.md says
and are refused elsewhere (exit 2), the JSON envelope, and a deal's SLA listing."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest

from projections.registry import FILTERS, REPORTS, report_filters
from tests.cli.helpers import dealflow
from tests.engine.facts import fact, opened

AS_OF = "--as-of=2026-01-10"
#: docs/cli.md's table of report x filter.
DOCUMENTED = {
    "pipeline": (),
    "sla": ("deal", "rep", "rule", "limit"),
    "commissions": ("rep", "period"),
    "kpis": ("rep", "team", "period"),
    "forecast": ("rep", "team", "period"),
    "waterfall": ("period", "from", "to", "by", "deals"),
    "accuracy": ("rep", "period"),
    "routing": ("rep", "team", "period"),
    "segments": (),
}


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("reports")
    facts = [opened("C-1", owner="rep-07", time="2026-01-05T10:00:00+08:00"),
             fact("activity.logged", "C-1", {"kind": "call", "purpose": "first_call"},
                  time="2026-01-05T11:00:00+08:00"),
             opened("C-2", owner="rep-08", time="2026-01-05T10:00:00+08:00")]
    (folder / "facts.jsonl").write_bytes(b"\n".join(orjson.dumps(f) for f in facts) + b"\n")
    done = dealflow(folder, "ingest", "facts.jsonl", "-q")
    assert done.returncode == 0, done.stdout + done.stderr
    return folder


def test_the_documented_filter_table_is_the_code() -> None:
    assert {name: report_filters(name) for name in REPORTS} == DOCUMENTED
    table = (Path(__file__).parents[2] / "docs" / "cli.md").read_text()
    for name, takes in DOCUMENTED.items():
        # Two tables: the shared filters, then the waterfall's own options.
        rows = [line for line in table.splitlines() if line.startswith(f"| `{name}` |")]
        assert len(rows) == 2, name
        found = []
        for row, filters in zip(rows, (FILTERS[:6], FILTERS[6:]), strict=True):
            cells = [c.strip() for c in row.strip("|").split("|")][1:]
            found += [f for f, cell in zip(filters, cells, strict=True) if cell != "-"]
        assert found == list(takes)


@pytest.mark.parametrize(("report", "option"), [
    ("pipeline", "--rep=rep-07"), ("pipeline", "--deal=C-1"), ("commissions", "--deal=C-1"),
    ("kpis", "--rule=first_contact"), ("sla", "--period=2026-Q1"), ("sla", "--team=t"),
])
def test_a_filter_a_report_does_not_take_is_refused(store: Path, report: str,
                                                    option: str) -> None:
    done = dealflow(store, "report", report, option, "--db", "sqlite:///dealflow.db")
    assert done.returncode == 2
    assert f"report {report} does not take {option.split('=')[0]}" in done.stdout


def test_every_json_report_has_the_envelope(store: Path) -> None:
    for name in REPORTS:
        done = dealflow(store, "report", name, AS_OF, "--json")
        assert done.returncode == 0, done.stdout + done.stderr
        document = json.loads(done.stdout)
        assert document["kind"] == f"report.{name}"
        assert document["as_of"].startswith("2026-01-10T23:59:59.999999")
        assert document["known_at"] is None


def test_sla_of_one_deal_lists_its_instances(store: Path) -> None:
    done = dealflow(store, "report", "sla", "--deal=C-1", AS_OF, "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    document = json.loads(done.stdout)
    assert document["deal"] == "C-1"
    assert {(i["rule"], i["outcome"]) for i in document["instances"]} == {
        ("first_contact", "met"), ("thank_you_email", "breached")}
    assert {i["subject"] for i in document["breaches"]} == {"C-1"}
    table = dealflow(store, "report", "sla", "--deal=C-1", AS_OF)
    assert "SLA instances of deal C-1" in table.stdout
    missing = dealflow(store, "report", "sla", "--deal=NOPE", AS_OF)
    assert missing.returncode == 2
    assert "no deal 'NOPE'" in missing.stdout


def test_limit_caps_lists_and_keeps_their_totals(store: Path) -> None:
    whole = json.loads(dealflow(store, "report", "sla", AS_OF, "--json").stdout)
    capped = json.loads(dealflow(store, "report", "sla", AS_OF, "--json", "--limit=1").stdout)
    assert whole["breaches_total"] == capped["breaches_total"] == len(whole["breaches"]) == 2
    assert capped["breaches"] == whole["breaches"][:1]
    assert capped["rules"] == whole["rules"]
