"""A user's own definitions folder reaches every view, report and route (SQLite and PostgreSQL).

The folder holds a workflow ``quick`` (stages, probabilities, SLA rules ``qualify_fast`` and
``quote_within_a_day`` and a Europe/Berlin calendar that no shipped workflow has) and a plan
``flat-2026`` (10 % flat). Facts of those definitions are ingested and must show in the
pipeline, SLA, commissions and KPI reports, live and after a rebuild, over HTTP (report
routes, deal routes, metrics) and through the ``dealflow`` console script. The expected
figures are computed by hand; the shipped definitions would give other ones.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from engine.bootstrap import Engine, bootstrap
from engine.cli.main import app
from engine.errors import ConfigurationError
from engine.serve.tokens import Role
from engine.settings import Settings
from projections.registry import REPORTS, build
from projections.report import ReportParams
from projections.runner import ProjectionRunner
from tests.api.conftest import Api, start_api, stop_api
from tests.engine.conftest import engine, make_engine, send
from tests.engine.facts import fact, raw

__all__ = ["engine", "make_engine"]

DEALFLOW = Path(sys.executable).parent / "dealflow"  # the console script (.venv/bin)

QUICK = """\
# A user workflow: three open stages with probabilities of its own.
name: quick
version: 1
title: Quick inbound sales

stages:
  - name: lead
    probability: "0.15"
    requires: deal.opened
  - name: qualified
    probability: "0.50"
    requires: {fact: activity.logged, kinds: [call]}
  - name: negotiation
    probability: "0.90"
    requires: quote.issued
  - name: won
    kind: won
    probability: "1.00"
    requires: contract.signed
    accepts: [activity.logged, payment.received, survey.responded, contract.cancelled]
  - name: lost
    kind: lost
    probability: "0.00"
    requires: deal.lost
    accepts: [activity.logged, deal.reopened]

transitions:
  - {trigger: advance, source: lead, dest: qualified}
  - {trigger: advance, source: qualified, dest: negotiation}
  - {trigger: sign, source: negotiation, dest: won}
  - {trigger: lose, source: [lead, qualified, negotiation], dest: lost}
  - {trigger: reopen, source: lost, dest: "*"}

sla:
  - name: qualify_fast
    description: a call within 4 calendar hours of opening
    start: {fact: deal.opened}
    end: {fact: activity.logged, kinds: [call]}
    deadline: {hours: 4, basis: calendar}
  - name: quote_within_a_day
    description: a quote within 9 business hours (the calendar below) of qualifying
    start: {enter_stage: qualified}
    end: {fact: quote.issued}
    deadline: {hours: 9, basis: business}

calendar:
  timezone: Europe/Berlin
  weekdays: [mon, tue, wed, thu, fri]
  start_hour: 8
  end_hour: 17
  holidays: []
"""

FLAT = """\
# A user plan: 10 % of all credit, no bonus, no clawback.
id: flat-2026
version: 1
description: 10 % flat on booked credit
basis: booking
period:
  unit: quarter
  timezone: Asia/Shanghai
splits: at_signing
tiers:
  - from_attainment: "0"
    rate: "0.10"
bonuses: []
rounding:
  places: 2
  mode: half_up
"""

REP = "rep-q"
WON, OPEN = "Q-WON", "Q-OPEN"
AS_OF = "2026-02-01T00:00:00+08:00"


def write_definitions(folder: Path) -> Path:
    """The user's folder: ``workflows/quick.yaml`` and ``plans/flat-2026.yaml``."""
    (folder / "workflows").mkdir(parents=True)
    (folder / "plans").mkdir()
    (folder / "workflows" / "quick.yaml").write_text(QUICK, encoding="utf-8")
    (folder / "plans" / "flat-2026.yaml").write_text(FLAT, encoding="utf-8")
    return folder


def _at(day: int, hour: int) -> str:
    return f"2026-01-{day:02d}T{hour:02d}:00:00+08:00"


def _deal(subject: str, type_: str, data: dict[str, Any], time: str) -> dict[str, Any]:
    return fact(type_, subject, data, time=time, actor=REP,
                id_=f"{subject}-{type_}-{time}")


def _opened(subject: str, amount: str, time: str, **data: Any) -> dict[str, Any]:
    return _deal(subject, "deal.opened", {"workflow": "quick", "account": f"acct-{subject}",
                                          "owner": REP, "amount": amount, "currency": "CNY",
                                          **data}, time)


def quick_facts() -> list[dict[str, Any]]:
    """rep-q on plan flat-2026 with a 2026-Q1 quota; ``Q-WON`` called within the hour, moved
    through every stage and signed at 20,000; ``Q-OPEN`` called 6 hours late and left in
    ``qualified`` without a quote."""
    return [
        fact("rep.plan_assigned", REP, {"plan": "flat-2026"}, time=_at(1, 9), actor=None,
             id_="plan-q"),
        fact("rep.quota_set", REP, {"period": "2026-Q1", "amount": "100000.00",
                                    "currency": "CNY", "team": "inbound"},
             time=_at(1, 9), actor=None, id_="quota-q"),
        _opened(WON, "18000.00", _at(5, 10)),  # Monday
        _deal(WON, "activity.logged", {"kind": "call", "purpose": "first_call"}, _at(5, 11)),
        _deal(WON, "deal.stage_changed", {"to": "qualified"}, _at(5, 12)),
        _deal(WON, "quote.issued", {"amount": "21000.00", "currency": "CNY"}, _at(6, 10)),
        _deal(WON, "deal.stage_changed", {"to": "negotiation"}, _at(6, 11)),
        _deal(WON, "contract.signed", {"amount": "20000.00", "currency": "CNY"}, _at(8, 15)),
        _opened(OPEN, "8000.00", _at(6, 10), expected_close="2026-03-20"),
        _deal(OPEN, "activity.logged", {"kind": "call", "purpose": "first_call"}, _at(6, 16)),
        _deal(OPEN, "deal.stage_changed", {"to": "qualified"}, _at(6, 17)),
    ]


def reports_of(runner: ProjectionRunner) -> dict[str, dict[str, Any]]:
    """Every registered report's JSON as of ``AS_OF`` from ``runner``'s live views."""
    params = ReportParams(as_of=datetime.fromisoformat(AS_OF))
    with runner.engine.connect() as conn:
        return {name: build(name, conn, runner.live, params).to_json() for name in REPORTS}


def assert_user_definitions_used(reports: dict[str, dict[str, Any]]) -> None:
    """The figures the user's workflow and plan give, computed by hand (the shipped ones
    have no stage ``qualified``, no rule ``qualify_fast``, and pay 5 %)."""
    assert set(reports) >= {"pipeline", "sla", "commissions", "kpis", "forecast"}

    pipeline = reports["pipeline"]
    # 8,000 x 0.50 (the user's probability of ``qualified``) = 4,000.00
    assert pipeline["open"] == [{
        "workflow": "quick", "stage": "qualified", "owner": REP, "team": "inbound",
        "currency": "CNY", "deals": 1, "amount": "8000.00", "weighted_amount": "4000.00"}]
    assert pipeline["by_close_date"] == [{
        "period": "2026-Q1", "currency": "CNY", "deals": 1, "weighted_amount": "4000.00",
        "open_amount": "8000.00"}]
    [outcome] = pipeline["outcomes"]
    assert (outcome["workflow"], outcome["owner"], outcome["won_deals"],
            outcome["won_amount"]) == ("quick", REP, 1, "20000.00")
    assert [(c["stage"], c["entered"], c["advanced"], c["open"])
            for c in pipeline["conversion"]] == [
        ("lead", 2, 2, 0), ("qualified", 2, 1, 1), ("negotiation", 1, 1, 0)]

    sla = reports["sla"]
    assert [(r["workflow"], r["rule"], r["met"], r["breached"], r["open"], r["cancelled"])
            for r in sla["rules"]] == [
        ("quick", "qualify_fast", 1, 1, 0, 0),  # Q-WON called after 1 h, Q-OPEN after 6 h
        ("quick", "quote_within_a_day", 0, 2, 0, 0)]
    # Times in the workflow's calendar zone (Berlin, UTC+1 in January). Business hours are
    # Berlin's 08:00-17:00: Q-WON qualified Monday 05:00 is due Monday 17:00 and its quote
    # (Tuesday 03:00) is late; in Shanghai's 09:00-18:00 it would have been in time.
    assert sorted((b["subject"], b["rule"], b["started_at"], b["due_at"], b["ended_at"])
                  for b in sla["breaches"]) == [
        (OPEN, "qualify_fast", "2026-01-06T03:00:00+01:00", "2026-01-06T07:00:00+01:00",
         "2026-01-06T09:00:00+01:00"),
        (OPEN, "quote_within_a_day", "2026-01-06T10:00:00+01:00", "2026-01-07T10:00:00+01:00",
         None),
        (WON, "quote_within_a_day", "2026-01-05T05:00:00+01:00", "2026-01-05T17:00:00+01:00",
         "2026-01-06T03:00:00+01:00")]
    assert [(o["subject"], o["rule"], o["outcome"]) for o in sla["overdue"]] == [
        (OPEN, "quote_within_a_day", "breached")]

    # The user's workflow names no forecast categories: its open stages are ``pipeline``;
    # 8,000 x 0.50 weighted; Q-WON's 20,000 closed in Q1 (the quarter of AS_OF).
    forecast = {(r["scope"], r["name"]): r for r in reports["forecast"]["rows"]}
    row = forecast[("rep", REP)]
    assert (reports["forecast"]["period"], row["team"], row["closed"], row["pipeline"],
            row["weighted"], row["pipeline_forecast"]) == (
        "2026-Q1", "no team", "20000.00", "8000.00", "4000.00", "28000.00")

    [statement] = reports["commissions"]["statements"]
    assert (statement["rep"], statement["period"], statement["totals"]) == (
        REP, "2026-Q1", {"CNY": "2000.00"})  # 10 % of 20,000; no bonus, whatever attainment
    [line] = statement["lines"]
    assert {k: line[k] for k in ("kind", "credit", "rate", "amount", "currency", "plan")} == {
        "kind": "rate", "credit": "20000.00", "rate": "0.10", "amount": "2000.00",
        "currency": "CNY", "plan": "flat-2026 v1"}
    assert line["deal"]["subject"] == WON
    assert reports["commissions"]["warnings"] == []

    [kpi] = reports["kpis"]["reps"]
    assert (kpi["name"], kpi["period"], kpi["deals_won"], kpi["revenue_won"],
            kpi["attainment"]) == (REP, "2026-Q1", 1, {"CNY": "20000.00"}, {"CNY": "0.2000"})
    assert [(c["workflow"], c["stage"], c["entered"], c["advanced"])
            for c in kpi["conversion"]] == [
        ("quick", "lead", 2, 2), ("quick", "qualified", 2, 1), ("quick", "negotiation", 1, 1)]


def assert_api_serves(api: Api, expected: dict[str, dict[str, Any]], head: int) -> None:
    """Every report route (summary and each list) gives ``expected``'s content."""
    with api.client(Role.ADMIN) as client:
        for name, content in expected.items():
            params = {"as_of": AS_OF, "min_position": head}
            summary = client.get(f"/v1/{name}", params=params)
            assert summary.status_code == 200, summary.text
            body = summary.json()
            assert body["fields"] == {k: v for k, v in content.items()
                                      if not isinstance(v, list)}
            lists = {k: v for k, v in content.items() if isinstance(v, list)}
            assert {s["name"]: s["items"] for s in body["sections"]} == {
                k: len(v) for k, v in lists.items()}
            for section, items in lists.items():
                page = client.get(f"/v1/{name}/{section}", params={**params, "limit": 1000})
                assert page.status_code == 200, page.text
                assert page.json()["items"] == items, (name, section)


def test_user_definitions_reach_every_view_report_and_route(
        make_engine: Callable[..., Engine], store_url: str, tmp_path: Path) -> None:
    folder = write_definitions(tmp_path / "definitions")
    eng = make_engine(definitions=folder)
    assert {"quick", "standard", "channel"} <= set(eng.workflows.names())
    result = send(eng, *quick_facts())
    assert [o.status for o in result.outcomes] == ["accepted"] * 11, result.outcomes

    runner = eng.runner()
    runner.catch_up()
    # The SLA timer judges the user's rules on the user's calendar: three breaches recorded.
    timer = eng.sla_timer()
    assert timer.tick(datetime.fromisoformat(AS_OF)) == 3
    timer.stop()
    runner.catch_up()
    live = reports_of(runner)
    assert_user_definitions_used(live)
    assert {b["escalation"] for b in live["sla"]["breaches"]} == {"breached"}

    runner.rebuild()
    assert reports_of(runner) == live
    runner.stop()  # the service's runner takes the views over

    # The views run in a child process that bootstraps its own engine, as ``serve`` does.
    api = start_api(store_url, definitions=folder, views_process=True)
    try:
        assert_api_serves(api, live, head=runner.head())
        with api.client(Role.ADMIN) as client:
            mine = client.get("/v1/commissions/statements",
                              params={"as_of": AS_OF, "period": "2026-Q1", "rep": REP})
            assert mine.json()["items"] == live["commissions"]["statements"]

            won, open_ = (client.get(f"/v1/deals/{s}").json() for s in (WON, OPEN))
            assert (won["workflow"], won["workflow_version"], won["stage"], won["owner"],
                    won["signed_amount"]) == ("quick", 1, "won", REP, "20000.00")
            assert (open_["workflow"], open_["stage"], open_["amount"],
                    open_["expected_close"]) == ("quick", "qualified", "8000.00",
                                                 "2026-03-20")
            history = client.get(f"/v1/deals/{WON}/history").json()["items"]
            assert [e["fields"]["to_stage"] for e in history
                    if e["type"].endswith("stage_changed")] == ["qualified", "negotiation"]

            # Only the process keeping the views exports the gauges read from them: wait
            # until the views process holds their lock.
            deadline = time.monotonic() + 60
            while not api.service.holds_views() and time.monotonic() < deadline:
                time.sleep(0.05)
            assert api.service.holds_views()
            gauges = api.metrics()  # as of now: every fact above is in the past
            key = '{currency="CNY",stage="qualified",workflow="quick"}'
            assert gauges[f"dealflow_pipeline_open_weighted_amount{key}"] == 4000.0
            assert gauges['dealflow_sla_instances{outcome="met",rule="qualify_fast",'
                          'workflow="quick"}'] == 1.0

            rebuilt = client.post("/v1/views/rebuild")
            assert rebuilt.status_code == 200, rebuilt.text
        assert_api_serves(api, live, head=runner.head())

        # Facts of the user's workflow over HTTP: the service's ingestor knows it too.
        new = _opened("Q-HTTP", "2000.00", _at(20, 10))
        with api.client(Role.ADMIN) as client:
            posted = client.post("/v1/facts", params={"wait": "true"}, json=new).json()
            rows = client.get("/v1/pipeline/open", params={
                "as_of": AS_OF, "min_position": posted["position"]}).json()["items"]
        assert {(r["stage"], r["amount"], r["weighted_amount"]) for r in rows} == {
            ("lead", "2000.00", "300.00"), ("qualified", "8000.00", "4000.00")}
    finally:
        stop_api(api)


def _cli(db: str, folder: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEALFLOW_")}
    env.update(DEALFLOW_DEFINITIONS=str(folder), DEALFLOW_DB=db)
    return subprocess.run([str(DEALFLOW), *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120, check=False)


def test_console_script_ingests_reports_and_rebuilds_with_user_definitions(
        tmp_path: Path) -> None:
    folder = write_definitions(tmp_path / "definitions")
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    facts = tmp_path / "facts.jsonl"
    facts.write_bytes(b"".join(raw(f) + b"\n" for f in quick_facts()))

    def report(name: str, *options: str) -> dict[str, Any]:
        done = _cli(db, folder, tmp_path, "report", name, "--json", "--as-of", AS_OF,
                    *options)
        assert done.returncode == 0, done.stdout + done.stderr
        result: dict[str, Any] = json.loads(done.stdout)
        assert result.pop("kind") == f"report.{name}"  # the CLI's envelope
        return result

    # Two workers: this process decides with the user's definitions; a helper only parses.
    ingested = _cli(db, folder, tmp_path, "ingest", str(facts), "--workers", "2", "--quiet")
    assert ingested.returncode == 0, ingested.stdout + ingested.stderr
    assert "accepted │ 11" in " ".join(ingested.stdout.split())
    pipeline = report("pipeline")  # the CLI brings the views up to date first
    statements = report("commissions", "--period", "2026-Q1", "--rep", REP)["statements"]

    eng = bootstrap(Settings(db=db, definitions=folder))
    try:
        runner = eng.runner()
        runner.catch_up()
        expected = reports_of(runner)
        runner.stop()
    finally:
        eng.close()
    assert_user_definitions_used(expected)
    assert pipeline == expected["pipeline"]
    assert statements == expected["commissions"]["statements"]

    rebuilt = _cli(db, folder, tmp_path, "rebuild")
    assert rebuilt.returncode == 0, rebuilt.stdout + rebuilt.stderr
    assert "rebuilt pipeline" in rebuilt.stdout and "rebuilt commissions" in rebuilt.stdout
    after = report("pipeline")
    assert after == expected["pipeline"]
    assert after["open"][0]["workflow"] == "quick"

    shown = _cli(db, folder, tmp_path, "workflow", "show", "quick")
    assert shown.returncode == 0, shown.stdout + shown.stderr
    assert "qualify_fast" in shown.stdout and "Europe/Berlin" in shown.stdout


@pytest.mark.parametrize("layout", ["subfolders", "flat"])
def test_workflow_command_reads_the_definitions_folder(tmp_path: Path, layout: str) -> None:
    if layout == "subfolders":
        folder = write_definitions(tmp_path / "definitions")
    else:
        folder = tmp_path / "flat"
        folder.mkdir()
        (folder / "quick.yaml").write_text(QUICK, encoding="utf-8")
    cli = CliRunner(env={"COLUMNS": "200", "DEALFLOW_DEFINITIONS": str(folder)})
    from_settings = cli.invoke(app, ["workflow", "show", "quick"])
    assert from_settings.exit_code == 0, from_settings.output
    assert "0.50" in from_settings.stdout and "quote_within_a_day" in from_settings.stdout
    cli = CliRunner(env={"COLUMNS": "200", "DEALFLOW_DEFINITIONS": None})
    from_option = cli.invoke(app, ["workflow", "list", "--definitions", str(folder)])
    assert from_option.exit_code == 0, from_option.output
    assert "qualify_fast" in from_option.stdout
    assert cli.invoke(app, ["workflow", "show", "quick"]).exit_code == 2  # shipped only
    (folder / "broken.yaml").write_text("name: [", encoding="utf-8")
    broken = cli.invoke(app, ["workflow", "list", "--definitions", str(folder)])
    assert broken.exit_code == 2 and str(folder / "broken.yaml") in broken.stderr


BROKEN = [
    pytest.param("workflows/quick.yaml", QUICK.replace('"0.50"', '"1.50"'),
                 "probability 1.50 is outside 0..1", id="workflow"),
    pytest.param("plans/flat-2026.yaml", FLAT.replace('rate: "0.10"', "rate: 0.10"),
                 "tiers.0.rate", id="plan"),
    pytest.param("quick.yaml", QUICK.replace("dest: qualified", "dest: negotiation"),
                 "advance moves one stage forward", id="flat-workflow"),
]


@pytest.mark.parametrize(("name", "text", "problem"), BROKEN)
def test_a_broken_user_file_is_an_error_naming_the_file(
        tmp_path: Path, name: str, text: str, problem: str) -> None:
    folder = write_definitions(tmp_path / "definitions")
    (folder / name).write_text(text, encoding="utf-8")
    with pytest.raises(ConfigurationError) as caught:
        bootstrap(Settings(db=f"sqlite:///{tmp_path / 'never.db'}", definitions=folder))
    assert str(folder / name) in str(caught.value)
    assert problem in str(caught.value)
    assert not (tmp_path / "never.db").exists()  # refused before the store is opened


def test_a_flat_folder_of_yaml_loads_as_workflows(
        make_engine: Callable[..., Engine], tmp_path: Path) -> None:
    folder = tmp_path / "flat"
    folder.mkdir()
    (folder / "quick.yaml").write_text(QUICK, encoding="utf-8")
    eng = make_engine(definitions=folder)
    assert eng.workflows.get("quick").definition.stage("qualified").probability == Decimal(
        "0.50")
    result = send(eng, _opened("F-1", "1000.00", _at(5, 10)))
    assert [o.status for o in result.outcomes] == ["accepted"]
    runner = eng.runner()
    runner.catch_up()
    open_rows = reports_of(runner)["pipeline"]["open"]
    assert [(r["workflow"], r["stage"], r["weighted_amount"]) for r in open_rows] == [
        ("quick", "lead", "150.00")]
    runner.stop()
