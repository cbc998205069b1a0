"""``dealflow serve`` as operators run it (the console script, views in a child process):
an access line per request, a line saying what the SLA timer's first tick appended, and
with two replicas on one store the gauges read from the views exported by one of them."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from engine.bootstrap import bootstrap
from engine.settings import Settings
from tests.api.conftest import parse_metrics
from tests.api.serving import ServeProcess, token
from tests.engine.conftest import send
from tests.engine.facts import opened

ESCALATIONS = {"dealflow.sla.breached", "dealflow.sla.corrected", "dealflow.sla.rebreached",
               "dealflow.sla.escalation_step", "dealflow.sla.escalation_step_corrected"}


def _store(db: str) -> None:
    """Three deals opened in January 2026 and never contacted: breached as of now."""
    engine = bootstrap(Settings(db=db))
    try:
        send(engine, opened("L-1"), opened("L-2"), opened("L-3", workflow="channel"))
    finally:
        engine.close()


def _escalations(db: str) -> int:
    engine = bootstrap(Settings(db=db))
    try:
        notifications = engine.app.recorder.select_notifications(start=1, limit=10_000)
        return sum(n.topic in ESCALATIONS for n in notifications)
    finally:
        engine.close()


def test_serve_logs_each_request_and_what_its_first_sla_tick_appended(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path}/store.db"
    _store(db)
    secret = token(db, "admin", "ops")
    with ServeProcess(db, tmp_path / "serve.log") as serve:
        tick = serve.wait_for_output("SLA timer: first tick")
        with httpx.Client(base_url=serve.url, timeout=30,
                          headers={"Authorization": f"Bearer {secret}"}) as client:
            assert client.get("/v1/pipeline").status_code == 200
            assert client.get("/v1/deals/L-404").status_code == 404
        serve.wait_for_output('"GET /v1/pipeline HTTP/1.1" 200')
        serve.wait_for_output('"GET /v1/deals/L-404 HTTP/1.1" 404')
        assert secret not in serve.text()
    appended = _escalations(db)
    assert appended >= 3  # each deal's first contact, at least
    assert re.search(rf"SLA timer: first tick judged 3 deals and appended {appended} "
                     r"escalation events", tick), tick


def test_of_two_replicas_one_exports_the_gauges_read_from_the_views(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path}/store.db"
    _store(db)
    secret = token(db, "viewer", "prometheus")
    env = {"DEALFLOW_METRICS_VIEW_CACHE_SECONDS": "0", "DEALFLOW_SLA_TIMER_INTERVAL": "0"}
    with ServeProcess(db, tmp_path / "one.log", env=env) as one, \
            ServeProcess(db, tmp_path / "two.log", env=env) as two:
        scrapes = []
        for replica in (one, two):
            response = httpx.get(f"{replica.url}/metrics", timeout=30,
                                 headers={"Authorization": f"Bearer {secret}"})
            assert response.status_code == 200
            scrapes.append(parse_metrics(response.text))
    exporters = [m["dealflow_view_exporter{}"] for m in scrapes]
    assert sorted(exporters) == [0, 1]
    open_deals = [sum(v for k, v in m.items() if k.startswith("dealflow_pipeline_open_deals"))
                  for m in scrapes]
    assert sum(open_deals) == 3  # summed over the replicas: each deal once
    overdue = [sum(v for k, v in m.items() if k.startswith("dealflow_sla_overdue_instances"))
               for m in scrapes]
    assert min(overdue) == 0 and max(overdue) >= 3
    for m in scrapes:  # the log and view positions: the same from both
        # Three openings, the routing book's start and its record of the batch (1.1).
        assert m["dealflow_log_head_position{}"] == 5
        assert m['dealflow_view_lag_events{view="pipeline"}'] == 0
