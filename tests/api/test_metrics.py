"""/metrics after known traffic: exact counts of facts, outcomes, requests, denials, view
positions, and the pipeline and SLA gauges read from the views; on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from engine.serve.tokens import Role
from tests.api.conftest import Api
from tests.engine.facts import fact, opened
from tests.kafka.conftest import wait_until

T = "2026-01-05T10:00:00+08:00"


def _traffic(api: Api) -> int:
    """Known traffic; returns the log head it leaves."""
    batch = [
        opened("M-A"), opened("M-B"), opened("M-C", workflow="channel"),
        fact("activity.logged", "M-A", {"kind": "call"}, source="telephony", time=T),
        {"id": "x", "type": "deal.opened"},  # rejected: invalid:source
        fact("deal.stage_changed", "M-GHOST", {"to": "contact"}),  # rejected: deal_not_found
    ]
    move = fact("deal.stage_changed", "M-A", {"to": "contact"}, time=T)
    with api.client(Role.INGEST) as client:
        assert client.post("/v1/facts/batch", json=batch).status_code == 200
        assert client.post("/v1/facts", json=move).status_code == 201
        assert client.post("/v1/facts", json=move).status_code == 200  # duplicate
        last = client.post("/v1/facts", json=opened("M-A")).json()  # rejected: deal_exists?
        assert client.get("/v1/pipeline").status_code == 403
    with api.client() as anonymous:
        assert anonymous.get("/v1/pipeline").status_code == 401
    assert api.service.wait_for(last["position"])
    return int(last["position"])


def test_scrape_after_known_traffic(api: Api) -> None:
    head = _traffic(api)
    m = api.metrics()
    ingested = {k: v for k, v in m.items() if k.startswith("dealflow_facts_ingested_total")}
    assert ingested == {
        'dealflow_facts_ingested_total{channel="http",source="crm-web",type="deal.opened"}': 3,
        'dealflow_facts_ingested_total{channel="http",source="telephony",'
        'type="activity.logged"}': 1,
        'dealflow_facts_ingested_total{channel="http",source="crm-web",'
        'type="deal.stage_changed"}': 1,
    }
    assert m['dealflow_facts_duplicate_total{channel="http",source="crm-web"}'] == 1
    rejected = {k: v for k, v in m.items() if k.startswith("dealflow_facts_rejected_total")}
    assert sum(rejected.values()) == 3
    assert m['dealflow_facts_rejected_total{channel="http",reason="deal_not_found"}'] == 1
    assert m['dealflow_ingest_batch_seconds_count{channel="http"}'] == 4
    assert m['dealflow_ingest_batch_inputs_sum{channel="http"}'] == 6 + 1 + 1 + 1
    assert m['dealflow_append_batch_events_count{channel="http"}'] == 2
    # 4 deal events, the routing book's start and its record of the first batch (1.1).
    assert m['dealflow_append_batch_events_sum{channel="http"}'] == head == 7

    assert m['dealflow_http_requests_total{method="POST",route="/v1/facts/batch",'
             'status="200"}'] == 1
    assert m['dealflow_http_requests_total{method="POST",route="/v1/facts",status="201"}'] == 1
    assert m['dealflow_http_requests_total{method="POST",route="/v1/facts",status="200"}'] == 1
    assert m['dealflow_http_requests_total{method="POST",route="/v1/facts",status="422"}'] == 1
    assert m['dealflow_http_requests_total{method="GET",route="/v1/pipeline",status="403"}'] == 1
    assert m['dealflow_http_request_duration_seconds_count{method="POST",'
             'route="/v1/facts"}'] == 3
    assert m['dealflow_http_denied_total{reason="forbidden",route="/v1/pipeline"}'] == 1
    assert m['dealflow_http_denied_total{reason="missing_token",route="/v1/pipeline"}'] == 1

    assert m["dealflow_log_head_position{}"] == head
    for view in api.service.runner.live:
        assert m[f'dealflow_view_position{{view="{view}"}}'] == head
        assert m[f'dealflow_view_lag_events{{view="{view}"}}'] == 0

    pipeline = {k: v for k, v in m.items() if k.startswith("dealflow_pipeline_open_deals")}
    assert pipeline == {
        'dealflow_pipeline_open_deals{stage="contact",workflow="standard"}': 1,
        'dealflow_pipeline_open_deals{stage="lead",workflow="standard"}': 1,
        'dealflow_pipeline_open_deals{stage="registered",workflow="channel"}': 1,
    }
    assert m['dealflow_pipeline_open_amount{currency="CNY",stage="contact",'
             'workflow="standard"}'] == 10000
    assert m['dealflow_pipeline_open_weighted_amount{currency="CNY",stage="contact",'
             'workflow="standard"}'] == 1000

    # As of now (long after January 2026): A's first contact was met (the call came at
    # its opening); B and C were never contacted; A's call has no thank-you e-mail; C's
    # registration was never approved.
    sla = {k: v for k, v in m.items() if k.startswith("dealflow_sla_instances") and v}
    assert sla == {
        'dealflow_sla_instances{outcome="met",rule="first_contact",workflow="standard"}': 1,
        'dealflow_sla_instances{outcome="breached",rule="first_contact",'
        'workflow="standard"}': 1,
        'dealflow_sla_instances{outcome="breached",rule="thank_you_email",'
        'workflow="standard"}': 1,
        'dealflow_sla_instances{outcome="breached",rule="first_contact",'
        'workflow="channel"}': 1,
        'dealflow_sla_instances{outcome="breached",rule="registration_approval",'
        'workflow="channel"}': 1,
    }
    overdue = {k: v for k, v in m.items() if k.startswith("dealflow_sla_overdue_instances")}
    assert overdue == {
        'dealflow_sla_overdue_instances{rule="first_contact",workflow="standard"}': 1,
        'dealflow_sla_overdue_instances{rule="thank_you_email",workflow="standard"}': 1,
        'dealflow_sla_overdue_instances{rule="first_contact",workflow="channel"}': 1,
        'dealflow_sla_overdue_instances{rule="registration_approval",workflow="channel"}': 1,
    }


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_metrics_can_be_public_and_names_follow_conventions(make_api: object) -> None:
    api = make_api(metrics_auth=False)  # type: ignore[operator]
    with api.client() as client:
        response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    names = {line.split()[2] for line in response.text.splitlines()
             if line.startswith("# TYPE")}
    assert names and all(n.startswith("dealflow_") for n in names)
    for line in response.text.splitlines():
        if line.startswith("# TYPE") and line.endswith(" counter"):
            assert line.split()[2].endswith("_total")
        if line.startswith("# TYPE") and "seconds" in line and "_created " not in line:
            assert line.split()[2].endswith("_seconds")


def test_two_services_on_one_store_export_the_view_gauges_once(
    make_api: Callable[..., Api]
) -> None:
    first = make_api()
    with first.client(Role.INGEST) as client:
        posted = client.post("/v1/facts/batch?wait=true", json=[opened("R-1"), opened("R-2")])
    assert posted.json()["visible"] is True
    second = make_api()  # its runner stands by: the first one holds the views' lock
    scrapes = [first.metrics(), second.metrics()]
    assert [m["dealflow_view_exporter{}"] for m in scrapes] == [1, 0]
    assert sum(v for m in scrapes for k, v in m.items()
               if k.startswith("dealflow_pipeline_open_deals")) == 2
    assert not any(k.startswith(("dealflow_pipeline_", "dealflow_sla_")) for k in scrapes[1])
    first.service.runner.stop()  # the first one gives the views up: the second takes over
    wait_until(lambda: second.metrics()["dealflow_view_exporter{}"] == 1, timeout=30,
               what="the second service to take the views over")
    assert first.metrics()["dealflow_view_exporter{}"] == 0


def test_uncommon_methods_are_counted_under_one_label(api: Api) -> None:
    """HTTP allows any method token: the ones outside the usual set count as one series,
    so a client cannot add series without bound."""
    with api.client() as anonymous:
        for method in ("PROPFIND", "MKCOL", "PROPFIND"):
            assert anonymous.request(method, "/v1/pipeline").status_code in (401, 405)
    m = api.metrics()
    methods = {k.split('method="')[1].split('"')[0] for k in m
               if k.startswith("dealflow_http_requests_total{")}
    assert "(other)" in methods and not methods & {"PROPFIND", "MKCOL"}
    other = sum(v for k, v in m.items()
                if k.startswith('dealflow_http_requests_total{method="(other)"'))
    assert other == 3
