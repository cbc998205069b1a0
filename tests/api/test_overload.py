"""Overload and limits over HTTP: more waiting facts than the group commit's bounded queue
takes are refused at once with 503 and Retry-After (and counted), never queued without
bound; a body, a batch, a string or a nesting beyond its limit is refused with 413/422
naming the limit; on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

import httpx
import pytest

from engine.errors import OverloadedError
from engine.ingest.batch import BatchResult, Outcome, RawInput
from engine.serve.group import GroupCommitter
from engine.serve.tokens import Role
from tests.api.conftest import Api
from tests.engine.facts import opened

#: How long a refused request may take at most: it must be answered at once, not queued.
#: Generous (a shared 2-core machine); a queued request would wait for the held lock.
REFUSAL_BOUND_SECONDS = 5.0


def _fake(inputs: Sequence[RawInput]) -> BatchResult:
    return BatchResult(outcomes=[Outcome("accepted", i.origin) for i in inputs])


def test_the_queue_admits_up_to_its_bound_then_refuses_naming_it() -> None:
    committer = GroupCommitter(_fake, max_inputs=10, max_waiting=5)
    with committer.admitted(3):
        with committer.admitted(2):
            assert committer.full() and committer.waiting == 5
            with pytest.raises(OverloadedError, match="api_max_waiting=5"), \
                    committer.admitted(1):
                pass
        assert not committer.full()
        with pytest.raises(OverloadedError), committer.admitted(3):
            pass
    assert committer.waiting == 0
    with committer.admitted(50):  # alone in the queue: admitted whatever its size
        assert committer.waiting == 50


def test_the_queue_bounds_waiting_requests_too() -> None:
    committer = GroupCommitter(_fake, max_inputs=10, max_waiting=100, max_requests=2)
    with committer.admitted(1), committer.admitted(1):
        assert "api_max_waiting_requests=2" in (committer.full() or "")
        with pytest.raises(OverloadedError, match="api_max_waiting_requests=2"), \
                committer.admitted(1):
            pass
    assert committer.full() is None


def test_a_full_queue_answers_503_with_retry_after_and_counts_it(
        make_api: Callable[..., Api]) -> None:
    api = make_api(api_max_waiting=10)
    with api.service.committer.admitted(10), api.client(Role.INGEST) as client:
        one = client.post("/v1/facts", json=opened("OV-1"))
        batch = client.post("/v1/facts/batch", json=[opened("OV-2")])
    for response in (one, batch):
        assert response.status_code == 503
        assert response.headers["retry-after"] == "1"
        assert response.json()["error"] == "overloaded"
        assert "api_max_waiting=10" in response.json()["detail"]
    assert api.metrics()['dealflow_http_refused_total{reason="overloaded"}'] == 2
    with api.client(Role.INGEST) as client:  # the places are free again
        assert client.post("/v1/facts", json=opened("OV-1")).status_code == 201
    assert api.service.committer.waiting == 0


def test_concurrent_requests_beyond_the_bound_are_refused_at_once_others_stored(
        make_api: Callable[..., Api]) -> None:
    api = make_api(api_max_waiting=6)
    statuses: dict[int, int] = {}
    refused_in: list[float] = []

    def post(i: int) -> None:
        with api.client(Role.INGEST) as client:
            response = client.post("/v1/facts/batch",
                                   json=[opened(f"OC-{i}-{k}") for k in range(2)])
        statuses[i] = response.status_code
        if response.status_code == 503:
            refused_in.append(response.elapsed.total_seconds())

    # The ingestor is held: admitted requests wait in the queue, the rest must not.
    api.service.ingest_lock.acquire()
    try:
        threads = [threading.Thread(target=post, args=(i,)) for i in range(8)]
        for thread in threads:
            thread.start()
        waited = threading.Event()
        while len(refused_in) < 5 and not waited.wait(0.05):
            if not any(t.is_alive() for t in threads):
                break
        assert len(refused_in) == 5  # 3 requests of 2 facts fill 6 places
        assert max(refused_in) < REFUSAL_BOUND_SECONDS
    finally:
        api.service.ingest_lock.release()
    for thread in threads:
        thread.join()
    assert sorted(statuses.values()) == [200] * 3 + [503] * 5
    with api.client(Role.AUDITOR) as client:
        head = client.get("/v1/log", params={"limit": 100}).json()
    opened_events = [e for e in head["items"] if e["type"] == "dealflow.deal.opened"]
    assert len(opened_events) == 6  # 3 batches x 2 deals opened, nothing else


def test_limits_are_refused_naming_the_setting(make_api: Callable[..., Api]) -> None:
    api = make_api(api_max_batch=3, api_max_body_bytes=4096, input_max_string=200,
                   input_max_depth=6)
    deep: object = 1
    for _ in range(6):
        deep = [deep]
    with api.client(Role.INGEST) as client:
        too_many = client.post("/v1/facts/batch", json=[opened(f"LM-{i}") for i in range(4)])
        too_big = client.post("/v1/facts", content=b"x" * 5000,
                              headers={"content-type": "application/json"})
        long_string = client.post("/v1/facts", json=opened("LM-5", note="n" * 201))
        too_deep = client.post("/v1/facts", json=opened("LM-6", extra=deep))
        in_batch = client.post("/v1/facts/batch",
                               json=[opened("LM-7"), opened("LM-8", note="n" * 300)])
    assert too_many.status_code == 413 and "api_max_batch=3" in too_many.json()["detail"]
    assert too_big.status_code == 413
    assert "api_max_body_bytes=4096" in too_big.json()["detail"]
    assert long_string.status_code == 422
    outcome = long_string.json()["outcome"]
    assert outcome["field"] == "data.note" and "input_max_string=200" in outcome["message"]
    assert too_deep.status_code == 422
    assert "input_max_depth=6" in too_deep.json()["outcome"]["message"]
    assert [o["status"] for o in in_batch.json()["outcomes"]] == ["accepted", "rejected"]
    assert "input_max_string=200" in in_batch.json()["outcomes"][1]["message"]


def test_a_chunked_body_beyond_the_limit_is_refused(make_api: Callable[..., Api]) -> None:
    api = make_api(api_max_body_bytes=4096)

    def chunks() -> object:
        for _ in range(10):
            yield b"x" * 1000

    with api.client(Role.INGEST) as client:
        response = client.post("/v1/facts", content=chunks(),  # type: ignore[arg-type]
                               headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert "api_max_body_bytes=4096" in response.json()["detail"]
    assert isinstance(response, httpx.Response)
