"""deploy/: the Prometheus alert rules and the Grafana dashboard parse, are well formed, use
only metrics the service exports, and never add up what every replica reports about the
whole store; every alert has a promtool unit test (promtool itself runs them in
tests/api/test_prometheus.py)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import yaml
from prometheus_client import CollectorRegistry, generate_latest

from engine.kafka.metrics import ConsumerMetrics, RelayMetrics
from engine.serve.service import Service
from engine.serve.tokens import Role
from tests.api.conftest import Api
from tests.api.deployfiles import DASHBOARD, DEPLOY, RULE_TESTS, RULES
from tests.engine.facts import opened

SEVERITIES = {"page", "warning", "ticket", "info"}
DURATION = re.compile(r"^(\d+(ms|s|m|h|d|w|y))+$")
METRIC = re.compile(r"\b(dealflow_[a-z0-9_]+)\b")
FUNCTIONS = {"sum", "max", "min", "avg", "count", "rate", "increase", "delta",
             "histogram_quantile", "clamp_min", "max_over_time", "min_over_time", "by",
             "without", "and", "or", "unless", "offset", "on", "ignoring"}
WORD_CALL = re.compile(r"\b([a-z_]+)\s*\(")
RANGE = re.compile(r"\[([^\]]+)\]")


def _balanced(expr: str) -> bool:
    pairs, stack = {")": "(", "]": "[", "}": "{"}, []
    in_string = False
    for ch in expr:
        if ch == '"':
            in_string = not in_string
        elif in_string:
            continue
        elif ch in "([{":
            stack.append(ch)
        elif ch in pairs and (not stack or stack.pop() != pairs[ch]):
            return False
    return not stack and not in_string


def check_promql(expr: str, exported: set[str], ranges: set[str] | None = None) -> list[str]:
    """Problems with ``expr``: unbalanced, unknown function, unknown metric, bad range."""
    problems = []
    if not _balanced(expr):
        problems.append("unbalanced brackets or quotes")
    bare = re.sub(r'"[^"]*"', '""', expr)
    problems += [f"unknown function {f}" for f in WORD_CALL.findall(bare)
                 if f not in FUNCTIONS]
    problems += [f"metric {m} is not exported" for m in METRIC.findall(bare)
                 if m not in exported]
    for window in RANGE.findall(bare):
        if not (DURATION.match(window) or window in (ranges or set())):
            problems.append(f"bad range [{window}]")
    return problems


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    """Every sample name the service can export, from a real scrape after some traffic."""
    from tests.api.conftest import api_settings, start_api, stop_api

    base = tmp_path_factory.mktemp("deploy")
    api: Api = start_api(f"sqlite:///{base}/dealflow.db")
    try:
        with api.client(Role.ADMIN) as client:
            client.post("/v1/facts/batch?wait=true", json=[opened("X-1"), {"id": 1}])
            text = client.get("/metrics").text
    finally:
        stop_api(api)
    # With Kafka, serve exports the outbox lag, and the Kafka package's own metrics join the
    # registry when the consumer and relay start (not started here: no broker needed).
    service = Service.build(api_settings(f"sqlite:///{base}/kafka.db", serve_kafka=True),
                            registry=CollectorRegistry())
    try:
        text += generate_latest(service.metrics.registry).decode()
    finally:
        service.stop()
    kafka = CollectorRegistry()
    ConsumerMetrics(kafka)
    RelayMetrics(kafka)
    text += generate_latest(kafka).decode()
    names: set[str] = set()
    for line in text.splitlines():
        if line.startswith("# TYPE"):
            _, _, name, kind = line.split()
            suffixes = {"histogram": ["_bucket", "_sum", "_count"], "counter": [""]}
            names.update(name + s for s in suffixes.get(kind, [""]))
        elif line and not line.startswith("#"):
            names.add(re.split(r"[{ ]", line, maxsplit=1)[0])
    return names


def test_alert_rules_are_well_formed(exported: set[str]) -> None:
    document: dict[str, Any] = yaml.safe_load(RULES.read_text())
    seen: set[str] = set()
    covered = ""
    for group in document["groups"]:
        assert group["name"] and group["rules"]
        for rule in group["rules"]:
            name = rule["alert"]
            assert name not in seen and re.match(r"^[A-Z][A-Za-z0-9]+$", name)
            seen.add(name)
            assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}
            assert rule["labels"]["severity"] in SEVERITIES
            assert rule["annotations"]["summary"]
            if "for" in rule:
                assert DURATION.match(rule["for"])
            assert check_promql(rule["expr"], exported) == [], name
            covered += rule["expr"]
    # The four concerns: SLA breaches, rejections rising, view lag, consumer lag.
    for metric in ("dealflow_sla_instances", "dealflow_facts_rejected_total",
                   "dealflow_view_lag_events", "dealflow_kafka_consumer_lag"):
        assert metric in covered


def test_the_checker_catches_mistakes(exported: set[str]) -> None:
    assert check_promql("sum(rate(dealflow_nope_total[5m])", exported) == [
        "unbalanced brackets or quotes", "metric dealflow_nope_total is not exported"]
    assert check_promql("frobnicate(dealflow_view_lag_events[5x])", exported) == [
        "unknown function frobnicate", "bad range [5x]"]


def test_dashboard_uses_exported_metrics(exported: set[str]) -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids)) >= 12
    used = ""
    for panel in dashboard["panels"]:
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            expr = target["expr"]
            assert check_promql(expr, exported, {"$__rate_interval"}) == [], panel["title"]
            used += expr
    for metric in ("dealflow_pipeline_open_amount", "dealflow_sla_overdue_instances",
                   "dealflow_view_lag_events", "dealflow_kafka_consumer_lag",
                   "dealflow_facts_rejected_total", "dealflow_http_request_duration_seconds",
                   "dealflow_forecast_rollup_amount"):
        assert metric in used


def test_manifests_parse_and_probe_health() -> None:
    manifests = list(yaml.safe_load_all((DEPLOY / "k8s" / "dealflow.yaml").read_text()))
    deployment = next(m for m in manifests if m["kind"] == "Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    compose = yaml.safe_load((DEPLOY / "compose.service.yaml").read_text())
    assert {"postgres", "dealflow", "prometheus", "grafana"} <= set(compose["services"])


#: Gauges about the whole store, the same from every replica that exports them.
STORE_WIDE = re.compile(r"dealflow_(pipeline_|sla_|forecast_|view_|log_head|outbox_lag)[a-z_]*")


def _store_wide_summed(expr: str) -> list[str]:
    """Store-wide gauges that ``expr`` adds up (sum/count/avg over replicas)."""
    bare = re.sub(r'"[^"]*"', '""', expr)
    found = []
    for match in re.finditer(r"\b(sum|count|avg)\b(\s+by\s*\([^)]*\))?\s*\(", bare):
        depth, i = 1, match.end()
        while depth and i < len(bare):
            depth += {"(": 1, ")": -1}.get(bare[i], 0)
            i += 1
        found += STORE_WIDE.findall(bare[match.end():i])
    return found


def test_store_wide_gauges_are_never_summed_over_replicas() -> None:
    assert _store_wide_summed("sum by (stage) (dealflow_pipeline_open_deals)") == ["pipeline_"]
    assert _store_wide_summed("max by (stage) (dealflow_pipeline_open_deals)") == []
    exprs = [rule["expr"] for group in yaml.safe_load(RULES.read_text())["groups"]
             for rule in group["rules"]]
    exprs += [t["expr"] for p in json.loads(DASHBOARD.read_text())["panels"]
              for t in p["targets"]]
    assert [e for e in exprs if _store_wide_summed(e)] == []


def test_every_alert_has_a_promtool_unit_test() -> None:
    alerts = {rule["alert"] for group in yaml.safe_load(RULES.read_text())["groups"]
              for rule in group["rules"]}
    tested = {case["alertname"] for test in yaml.safe_load(RULE_TESTS.read_text())["tests"]
              for case in test.get("alert_rule_test", [])}
    assert alerts == tested
