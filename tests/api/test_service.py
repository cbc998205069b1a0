"""The service around the API: readiness, liveness, a poison input that the ingestor cannot
handle, and the ``dealflow serve`` / ``dealflow token`` commands."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry
from typer.testing import CliRunner

from engine.bootstrap import Engine
from engine.cli.main import app as cli
from engine.serve.service import Service
from engine.serve.tokens import Role
from tests.api.conftest import Api, api_settings
from tests.engine.conftest import send
from tests.engine.facts import opened
from tests.infra import free_loopback_port


def test_ready_only_once_the_views_caught_up(engine: Engine, store_url: str) -> None:
    send(engine, *[opened(f"Y-{i}") for i in range(30)])
    service = Service.build(api_settings(store_url, ready_max_lag=5),
                            registry=CollectorRegistry())
    try:
        state = service.readiness()
        # 30 openings, the routing book's start and its record of the batch (1.1).
        assert not state.ready and state.head == 32 and "catching up" in state.detail
        service.runner.catch_up()
        assert service.readiness().ready
        send(engine, *[opened(f"Z-{i}") for i in range(10)])
        lagging = service.readiness()
        assert not lagging.ready and "11 events behind" in lagging.detail  # + book record
        service.runner.catch_up()
        assert service.readiness().ready
    finally:
        service.stop()


def test_health_and_readiness_over_http(api: Api) -> None:
    with api.client() as client:
        assert client.get("/healthz").json() == {"status": "ok", "detail": "serving"}
        ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["ready"] is True
    assert set(ready.json()["views"]) == set(api.service.runner.live)


@pytest.mark.parametrize("poison", [
    # an integer too large for the contract parser's digest (orjson: 64 bits at most)
    json.dumps(dict(opened("P-2"), data={**opened("P-2")["data"], "note": 2 ** 70})),
    # a NUL character, which PostgreSQL text columns refuse
    json.dumps(dict(opened("P-2"), source="crm\u0000web")),
])
def test_an_input_the_ingestor_fails_on_is_stored_not_dropped(api: Api, poison: str) -> None:
    raw = poison.encode()
    body = b"[" + b",".join([json.dumps(opened("P-1")).encode(), raw,
                             json.dumps(opened("P-3")).encode()]) + b"]"
    with api.client(Role.ADMIN) as client:
        response = client.post("/v1/facts/batch", content=body,
                               headers={"content-type": "application/json"})
        assert response.status_code == 200
        outcomes = response.json()["outcomes"]
        assert [o["status"] for o in (outcomes[0], outcomes[2])] == ["accepted", "accepted"]
        if outcomes[1]["status"] == "rejected":  # the engine could not take it: kept
            assert outcomes[1]["reason"] in ("unprocessable", "invalid:source")
            stored = client.get("/v1/rejections").json()["items"]
            assert [base64.b64decode(r["raw_base64"]) for r in stored] == [raw]


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_serve_and_token_commands(store_url: str, tmp_path: Path) -> None:
    runner = CliRunner()
    created = runner.invoke(cli, ["token", "create", "--role", "viewer", "--name", "grafana",
                                  "--db", store_url])
    assert created.exit_code == 0, created.output
    secret = created.output.strip().splitlines()[-1]
    assert secret.startswith("dft_")
    writer = runner.invoke(cli, ["token", "create", "--role", "ingest", "--name", "crm",
                                 "--db", store_url]).output.strip().splitlines()[-1]
    auditor = runner.invoke(cli, ["token", "create", "--role", "auditor", "--name", "audit",
                                  "--db", store_url]).output.strip().splitlines()[-1]
    listed = runner.invoke(cli, ["token", "list", "--db", store_url])
    assert "grafana" in listed.output and secret not in listed.output

    port = free_loopback_port()
    env = {**os.environ, "DEALFLOW_SLA_TIMER_INTERVAL": "0",
           "DEALFLOW_API_TOKEN_CACHE_SECONDS": "1"}
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "dealflow"), "serve", "--db", store_url, "--port",
         str(port), "--log-level", "warning"],
        cwd=Path(__file__).resolve().parents[2], env=env, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        headers = {"Authorization": f"Bearer {secret}"}
        # The views run in a child process: read-your-writes waits on their positions.
        posted = httpx.post(f"{url}/v1/facts/batch?wait=true", json=[opened("CLI-1")],
                            headers={"Authorization": f"Bearer {writer}"}, timeout=30)
        assert posted.json()["visible"] is True
        views = httpx.get(f"{url}/v1/views", headers=headers).json()
        # The opening, the routing book's start and its record of the batch (1.1).
        assert views["head"] == 3 and all(v["lag"] == 0 for v in views["views"])
        assert httpx.get(f"{url}/v1/pipeline/open", headers=headers).json()["total"] == 1
        rebuilt = httpx.post(f"{url}/v1/views/rebuild", timeout=60,
                             headers={"Authorization": f"Bearer {auditor}"})
        assert rebuilt.status_code == 200 and all(v["position"] == 3
                                                  for v in rebuilt.json()["views"])
        assert httpx.get(f"{url}/v1/pipeline/open", headers=headers).json()["total"] == 1
        later = httpx.post(f"{url}/v1/facts?wait=true", json=opened("CLI-2"), timeout=30,
                           headers={"Authorization": f"Bearer {writer}"})
        assert later.json()["visible"] is True  # the views process runs again
        assert httpx.get(f"{url}/v1/log", headers=headers).status_code == 403
        revoked = runner.invoke(cli, ["token", "revoke", "grafana", "--db", store_url])
        assert revoked.exit_code == 0, revoked.output
        time.sleep(1.1)  # the serving process trusts a verified token for 1 s (env above)
        assert httpx.get(f"{url}/v1/views", headers=headers).status_code == 401
        children = _children(process.pid)
        assert children  # the views process
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
    # -15: uvicorn re-raises the SIGTERM it handled, after a clean shutdown, which stopped
    # the service and its views process.
    assert process.returncode in (0, -signal.SIGTERM), output.decode()
    assert b"dealflow serving" in output and b"Traceback" not in output
    for _ in range(100):
        if not any(Path(f"/proc/{pid}").exists() for pid in children):
            break
        time.sleep(0.05)
    assert not any(Path(f"/proc/{pid}").exists() for pid in children)


def _children(pid: int) -> list[int]:
    """Processes whose parent is ``pid`` (Linux /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found
