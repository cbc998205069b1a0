"""The outbox relay against a real broker: log order per deal across a SIGKILL, standby."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from sqlalchemy import Engine as SqlEngine

from engine.bootstrap import Engine, bootstrap
from engine.demo import generate
from engine.domain.ids import deal_id, rep_id
from engine.ingest.batch import RawInput
from engine.kafka.state import fact_subjects, relay_position
from engine.settings import Settings
from engine.store.sql import sql_engine
from tests.infra.common import LOOPBACK, free_loopback_port, stop_process
from tests.kafka.conftest import DEALFLOW, Worker, consume_all, kafka_settings, wait_until

pytestmark = pytest.mark.kafka


def ingest(engine: Engine, lines: list[bytes]) -> None:
    """Store facts directly (the relay only reads the log)."""
    for start in range(0, len(lines), 500):
        engine.ingestor.ingest([RawInput(raw, f"test:{start + i}")
                                for i, raw in enumerate(lines[start:start + 500])])


def head(engine: Engine) -> int:
    """The last log position."""
    return int(engine.app.recorder.max_notification_id() or 0)


def saved_position(sql: SqlEngine, name: str) -> int:
    """The relay's saved position (0 before its table exists)."""
    try:
        return relay_position(sql, name)
    except Exception:  # its table may not exist yet
        return 0


def check_published(engine: Engine, records: list[Any]) -> int:
    """Every stored event is in ``records`` in log order per key (repeats allowed, with the
    same id and bytes); return how many repeats there were."""
    last = head(engine)
    first_seen: dict[str, bytes] = {}
    by_key: dict[bytes, list[int]] = defaultdict(list)
    partition_of_key: dict[bytes, int] = {}
    repeats = 0
    for record in records:
        payload = json.loads(record.value)
        headers = {k: v.decode() for k, v in record.headers}
        assert headers["dealflow.event_id"] == payload["event_id"]
        assert headers["dealflow.type"] == payload["type"]
        assert int(headers["dealflow.position"]) == payload["position"]
        assert record.key.decode() == payload["key"]
        assert partition_of_key.setdefault(record.key, record.partition) == record.partition
        if payload["event_id"] in first_seen:
            assert first_seen[payload["event_id"]] == record.value  # a repeat, byte for byte
            repeats += 1
            continue
        first_seen[payload["event_id"]] = record.value
        by_key[record.key].append(payload["position"])
    positions = sorted(p for ps in by_key.values() for p in ps)
    assert positions == list(range(1, last + 1))  # every event once, nothing else

    expected: dict[bytes, list[int]] = defaultdict(list)
    facts: dict[tuple[str, str], int] = {}
    payloads = {json.loads(v)["position"]: json.loads(v) for v in first_seen.values()}
    for n in engine.app.recorder.select_notifications(start=1, limit=last):
        payload = payloads[n.id]
        event = engine.app.mapper.to_domain_event(n)
        assert payload["type"] == n.topic
        assert payload["aggregate"] == {
            "type": type(event).__qualname__.split(".")[0].lower(),
            "id": str(n.originator_id), "version": n.originator_version}
        key = payload["key"]
        if payload["aggregate"]["type"] in ("deal", "rep"):
            assert UUID(payload["aggregate"]["id"]) in (deal_id(key), rep_id(key))
        if payload["fact"] is not None:
            facts[(payload["fact"]["source"], payload["fact"]["id"])] = n.id
        expected[key.encode()].append(n.id)
    assert dict(by_key) == dict(expected)  # per key: exactly the log order
    subjects = fact_subjects(sql_engine(engine.app.url), list(facts))
    assert all(payloads[position]["key"] == subjects[fact] for fact, position in facts.items())
    return repeats


def test_a_relay_killed_mid_stream_resumes_with_every_event_in_log_order_per_deal(
    kafka_bootstrap: str, tmp_path: Path, workers: Callable[..., Worker]
) -> None:
    lines = list(generate(5, deals=80))
    db = f"sqlite:///{tmp_path}/store.db"
    engine = bootstrap(Settings(db=db))
    sql = sql_engine(db)
    try:
        ingest(engine, lines[: len(lines) // 2])
        # Slow it down (small windows, long linger) so the kill lands mid-stream.
        settings = kafka_settings(kafka_bootstrap, relay_batch_size=20, relay_max_in_flight=20,
                                  linger_ms=40, relay_commit_ms=0)
        name = f"kafka:{settings.events_topic}"
        relay = workers(["relay", "--db", db], settings, "relay").start()

        def progress() -> int:
            return saved_position(sql, name)

        wait_until(lambda: progress() >= 100, timeout=60, what="the relay to get going",
                   on_timeout=relay.output)
        relay.kill()
        assert progress() < head(engine), "killed too late to be mid-stream"

        ingest(engine, lines[len(lines) // 2:])  # appended while no relay runs
        done = workers(["relay", "--db", db, "--until-idle"], settings, "relay").start()
        assert done.proc is not None
        assert done.proc.wait(timeout=120) == 0, done.output()
        assert progress() == head(engine)

        records = consume_all(kafka_bootstrap, settings.events_topic, expect=head(engine))
        check_published(engine, records)
    finally:
        sql.dispose()
        engine.close()


def test_a_second_relay_stands_by_and_takes_over_from_the_saved_position(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    lines = list(generate(3, deals=30))
    engine = bootstrap(Settings(db=f"sqlite:///{tmp_path}/store.db"))
    try:
        ingest(engine, lines[: len(lines) // 2])
        settings = kafka_settings(kafka_bootstrap)
        first, second = engine.relay(settings), engine.relay(settings)
        threads = [threading.Thread(target=r.run, daemon=True) for r in (first, second)]
        threads[0].start()
        wait_until(lambda: first.stats.position == head(engine), timeout=60,
                   what="the first relay to publish the log")
        threads[1].start()
        time.sleep(1.5)
        assert second.stats.published == 0  # standing by: the lock is held

        first.follower.request_stop()  # a graceful stop saves everything acknowledged
        threads[0].join(30)
        ingest(engine, lines[len(lines) // 2:])
        wait_until(lambda: second.stats.position == head(engine), timeout=60,
                   what="the second relay to take over")
        second.follower.request_stop()
        threads[1].join(30)
        assert first.stats.published + second.stats.published == head(engine)

        records = consume_all(kafka_bootstrap, settings.events_topic, expect=head(engine))
        assert check_published(engine, records) == 0  # a graceful handover repeats nothing
    finally:
        engine.close()


def test_a_one_shot_relay_without_a_broker_exits_3_at_once_naming_it(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path}/store.db"
    port = free_loopback_port()  # nothing listens there
    started = time.monotonic()
    done = subprocess.run([DEALFLOW, "relay", "--db", db, "--kafka", f"127.0.0.1:{port}",
                           "--until-idle"], capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL)
    assert time.monotonic() - started < 5
    assert done.returncode == 3, done.stdout + done.stderr
    assert done.stdout.splitlines() == [
        f"error: cannot reach a Kafka broker at 127.0.0.1:{port} "
        f"(127.0.0.1:{port}: connection refused)"]
    assert done.stderr == ""


def test_a_one_shot_relay_at_something_that_is_no_broker_exits_3_saying_so(
    tmp_path: Path
) -> None:
    with socket.create_server((LOOPBACK, 0)) as silent:  # accepts, never answers
        port = silent.getsockname()[1]
        env = {**os.environ, "DEALFLOW_KAFKA_BOOTSTRAP_TIMEOUT_MS": "1000"}
        started = time.monotonic()
        done = subprocess.run([DEALFLOW, "relay", "--db", f"sqlite:///{tmp_path}/store.db",
                               "--kafka", f"127.0.0.1:{port}", "--until-idle"], env=env,
                              capture_output=True, text=True, timeout=60,
                              stdin=subprocess.DEVNULL)
    assert time.monotonic() - started < 8
    assert done.returncode == 3, done.stdout + done.stderr
    assert done.stdout.splitlines() == [
        f"error: no Kafka broker answered at 127.0.0.1:{port} within 1s (127.0.0.1:{port}: "
        "accepts TCP connections but did not answer as a Kafka broker (a TLS or SASL "
        "listener? see DEALFLOW_KAFKA_CLIENT_OPTIONS))"]


def test_a_following_relay_without_a_broker_keeps_trying(tmp_path: Path) -> None:
    port = free_loopback_port()
    relay = subprocess.Popen([DEALFLOW, "relay", "--db", f"sqlite:///{tmp_path}/store.db",
                              "--kafka", f"127.0.0.1:{port}"],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL)
    try:
        time.sleep(4.0)
        assert relay.poll() is None  # a service waits for its broker
    finally:
        stop_process(relay, timeout=20)
    assert relay.stdout is not None
    output = relay.stdout.read().decode()
    relay.stdout.close()
    tries = [line for line in output.splitlines()
             if f"cannot reach a Kafka broker at 127.0.0.1:{port}" in line]
    assert len(tries) >= 2, output  # tried again, and said so in one line each time
    assert "Traceback" not in output
    assert relay.returncode == 0, output
