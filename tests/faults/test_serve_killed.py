"""``dealflow serve`` SIGKILLed while several clients post batches: each client retries what
got no answer, with the same ids, against the restarted server; the store then equals a
clean ingest of the same facts (accepted set, rejections, per-deal event sequences); on
SQLite and PostgreSQL."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

import httpx

from tests.api.serving import ServeProcess, token
from tests.faults.equality import clean_ingest, content_of
from tests.faults.test_store_outage import _facts


def test_serve_killed_mid_ingest_loses_and_doubles_nothing(
        store_url: str, tmp_path: Path, request: object) -> None:
    per_deal = _facts(90)
    clients = 3
    streams: list[list[bytes]] = [[] for _ in range(clients)]
    for d, facts in enumerate(per_deal):
        streams[d % clients].extend(facts)
    secret = token(store_url, "ingest", "killed")
    env = {"DEALFLOW_SLA_TIMER_INTERVAL": "0"}
    first = ServeProcess(store_url, tmp_path / "serve1.log", env=env).start()
    port = first.port
    unanswered = 0
    answered = 0
    total = sum((len(s) + 9) // 10 for s in streams)
    a_third_answered = threading.Event()  # kill mid-stream, whatever the machine's speed
    lock = threading.Lock()
    headers = {"Authorization": f"Bearer {secret}", "content-type": "application/x-ndjson"}

    def post_all(stream: list[bytes]) -> None:
        nonlocal unanswered, answered
        with httpx.Client(base_url=first.url, headers=headers, timeout=30) as client:
            for start in range(0, len(stream), 10):
                body = b"\n".join(stream[start:start + 10])
                while True:  # the same batch, same ids, until answered
                    try:
                        response = client.post("/v1/facts/batch", content=body)
                    except httpx.TransportError:
                        with lock:
                            unanswered += 1
                        time.sleep(0.2)
                        continue
                    if response.status_code == 200:
                        with lock:
                            answered += 1
                            if answered * 3 >= total:
                                a_third_answered.set()
                        break
                    assert response.status_code == 503, response.text
                    time.sleep(0.2)

    threads = [threading.Thread(target=post_all, args=(s,)) for s in streams]
    second: ServeProcess | None = None
    try:
        for thread in threads:
            thread.start()
        assert a_third_answered.wait(timeout=120), "the clients got no answers"
        assert first.proc is not None
        first.proc.send_signal(signal.SIGKILL)
        first.proc.wait(timeout=30)
        second = ServeProcess(store_url, tmp_path / "serve2.log", env=env)
        second.port = port  # the clients come back to the same address
        second.start()
        for thread in threads:
            thread.join(timeout=180)
            assert not thread.is_alive(), "a client did not finish"
    finally:
        first.stop()
        if second is not None:
            second.stop()
    assert unanswered > 0  # the kill left requests without an answer, which were retried
    clean = (f"sqlite:///{tmp_path}/clean.db" if store_url.startswith("sqlite")
             else _other_database(request))
    expected = clean_ingest(clean, [f for s in streams for f in s])
    found = content_of(store_url)
    assert found.accepted == expected.accepted
    assert found.rejected == expected.rejected
    assert found.events == expected.events


def _other_database(request: object) -> str:
    from tests.infra.postgres import create_database, drop_database

    admin: str = request.getfixturevalue("postgres_url")  # type: ignore[attr-defined]
    url = create_database(admin)
    request.addfinalizer(lambda: drop_database(admin, url))  # type: ignore[attr-defined]
    return url
