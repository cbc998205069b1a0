"""The shipped Prometheus files with a real Prometheus (Debian's ``prometheus`` package):
promtool checks and unit-tests the alert rules; a Prometheus server, configured from
deploy/prometheus/prometheus.yaml and scraping with the token the compose recipe writes,
scrapes a real ``dealflow serve`` and answers queries with the values of known traffic."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.api.conftest import parse_metrics
from tests.api.deployfiles import PROMETHEUS_CONFIG, RULE_TESTS, RULES, run_token_recipe
from tests.api.serving import ServeProcess, token
from tests.engine.facts import fact, opened
from tests.infra.prometheus import PrometheusBinaries, PrometheusServer

T = "2026-01-05T10:00:00+08:00"
Labels = tuple[tuple[str, str], ...]


def test_promtool_checks_and_unit_tests_the_shipped_rules(
    prometheus: PrometheusBinaries
) -> None:
    for args in (["check", "rules", str(RULES)], ["test", "rules", str(RULE_TESTS)]):
        done = subprocess.run([prometheus.promtool, *args], capture_output=True, text=True,
                              timeout=120, cwd=RULES.parent)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "SUCCESS" in done.stdout


def _config(tmp_path: Path, target: str, token_file: Path) -> Path:
    """The shipped configuration, pointed at ``target`` with our token file, rules by
    absolute path, and 1 s intervals."""
    config: dict[str, Any] = yaml.safe_load(PROMETHEUS_CONFIG.read_text())
    config["global"].update(scrape_interval="1s", evaluation_interval="1s")
    config["rule_files"] = [str(RULES)]
    job = next(j for j in config["scrape_configs"] if j["job_name"] == "dealflow")
    job["authorization"]["credentials_file"] = str(token_file)
    job["static_configs"] = [{"targets": [target]}]
    path = tmp_path / "prometheus.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _traffic(url: str, secret: str) -> int:
    """Known traffic (as in test_metrics); returns the log head it leaves."""
    batch = [
        opened("P-A"), opened("P-B"), opened("P-C", workflow="channel"),
        fact("activity.logged", "P-A", {"kind": "call"}, source="telephony", time=T),
        {"id": "x", "type": "deal.opened"},  # rejected: invalid:source
        fact("deal.stage_changed", "P-GHOST", {"to": "contact"}),  # rejected: deal_not_found
    ]
    move = fact("deal.stage_changed", "P-A", {"to": "contact"}, time=T)
    with httpx.Client(base_url=url, timeout=30,
                      headers={"Authorization": f"Bearer {secret}"}) as client:
        assert client.post("/v1/facts/batch", json=batch).status_code == 200
        assert client.post("/v1/facts", json=move).status_code == 201
        last = client.post("/v1/facts?wait=true", json=move)  # a duplicate
        assert last.status_code == 200 and last.json()["visible"] is True
        views = client.get("/v1/views").json()
    return int(views["head"])


def _wait(what: str, check: Callable[[], bool], server: PrometheusServer,
          timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"Prometheus never showed {what} within {timeout:.0f}s\n"
                        f"{server.api('targets')}\n{server.log_text()[-3000:]}")
        time.sleep(0.25)


def _by(found: dict[Labels, float], *keys: str) -> dict[tuple[str, ...], float]:
    return {tuple(dict(labels)[k] for k in keys): value for labels, value in found.items()}


def test_prometheus_scrapes_serve_with_the_compose_token_and_sees_the_traffic(
    prometheus: PrometheusBinaries, tmp_path: Path
) -> None:
    db = f"sqlite:///{tmp_path}/store.db"
    token_file = tmp_path / "dealflow-token"
    recipe = run_token_recipe(db, token_file)  # the viewer token, as compose makes it
    assert recipe.returncode == 0, recipe.stdout + recipe.stderr
    admin = token(db, "admin", "ops")
    env = {"DEALFLOW_METRICS_VIEW_CACHE_SECONDS": "0", "DEALFLOW_SLA_TIMER_INTERVAL": "0"}
    with ServeProcess(db, tmp_path / "serve.log", env=env) as serve:
        config = _config(tmp_path, f"127.0.0.1:{serve.port}", token_file)
        checked = subprocess.run([prometheus.promtool, "check", "config", str(config)],
                                 capture_output=True, text=True, timeout=60)
        assert checked.returncode == 0, checked.stdout + checked.stderr
        head = _traffic(serve.url, admin)
        with PrometheusServer(prometheus.prometheus, config, tmp_path / "data") as server:
            _wait("the traffic", lambda: server.query(
                f"dealflow_log_head_position == {head}") != {}, server)
            _wait("the ingest counters", lambda: sum(server.query(
                "dealflow_facts_ingested_total").values()) == 5, server)

            (target,) = server.api("targets")["activeTargets"]
            assert (target["health"], target["lastError"]) == ("up", "")  # the token works
            assert server.query('up{job="dealflow"}') != {}

            assert _by(server.query("dealflow_facts_ingested_total"), "channel", "type",
                       "source") == {
                ("http", "deal.opened", "crm-web"): 3,
                ("http", "activity.logged", "telephony"): 1,
                ("http", "deal.stage_changed", "crm-web"): 1}
            assert _by(server.query("dealflow_facts_duplicate_total"), "source") == {
                ("crm-web",): 1}
            assert _by(server.query("dealflow_facts_rejected_total"), "reason") == {
                ("invalid:source",): 1, ("deal_not_found",): 1}
            assert _by(server.query(
                'sum by (channel) (dealflow_ingest_batch_inputs_count)'), "channel") == {
                ("http",): 3}

            assert _by(server.query("max by (workflow, stage) "
                                    "(dealflow_pipeline_open_deals)"), "workflow", "stage") == {
                ("standard", "lead"): 1, ("standard", "contact"): 1,
                ("channel", "registered"): 1}
            assert _by(server.query("dealflow_pipeline_open_amount"), "workflow", "stage",
                       "currency") == {
                ("standard", "lead", "CNY"): 10000, ("standard", "contact", "CNY"): 10000,
                ("channel", "registered", "CNY"): 10000}
            assert _by(server.query("dealflow_view_lag_events"), "view") == {
                (view,): 0 for view in ("pipeline", "sla", "commissions", "kpis", "forecast",
                                         "routing", "segments")}
            assert _by(server.query("dealflow_view_exporter"), "job") == {("dealflow",): 1}

            # The SLA gauges: what the service itself exports, as Prometheus stored them.
            scraped = httpx.get(f"{serve.url}/metrics", timeout=30,
                                headers={"Authorization": f"Bearer {admin}"})
            direct = {k: v for k, v in parse_metrics(scraped.text).items()
                      if k.startswith("dealflow_sla_overdue_instances")}
            assert sum(direct.values()) > 0
            assert sum(server.query("dealflow_sla_overdue_instances").values()) == \
                sum(direct.values())

            groups = server.api("rules")["groups"]
            shipped = yaml.safe_load(RULES.read_text())["groups"]
            assert sorted(g["name"] for g in groups) == sorted(g["name"] for g in shipped)
            assert all(rule["health"] == "ok" for g in groups for rule in g["rules"])
        assert not server.running  # stopped by its PID
