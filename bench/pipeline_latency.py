"""GET pipeline latency with 100,000 open deals, beside its baselines, same run.

    python3 dev.py bench pipeline_latency [--deals 100000] [--requests 2000]
                                          [--write-rate 200]

Fills a fresh SQLite store with --deals ``deal.opened`` facts straight through the ingestor
(batches of 5,000), starts a real ``dealflow serve`` process (the views catch up, then
follow live) and measures, sequentially over one keep-alive connection:
- baseline: GET /healthz (the HTTP floor of this server);
- GET /v1/pipeline and GET /v1/pipeline/open_by_stage as served (an "as of now" report is
  served from cache, and recomputed in the background once it is older than
  DEALFLOW_API_REPORT_MAX_AGE, 5 s, and its view moved);
- the same while a writer posts --write-rate facts/s (activities on the open deals), so the
  view keeps moving;
- baseline: the pipeline report computed for every request (a server with report caching
  off), i.e. what the view itself costs;
printing p50, p99 and max (target: p99 at most 50 ms). Never part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

from engine.bootstrap import bootstrap
from engine.ingest.batch import RawInput
from engine.serve.tokens import Role, TokenStore
from engine.settings import Settings
from engine.store.sql import sql_engine

BIN = Path(sys.executable).parent
TLS = ssl.create_default_context()


def fill(url: str, deals: int) -> float:
    """Open ``deals`` deals through the ingestor; return facts/s."""
    engine = bootstrap(Settings(db=url))
    try:
        started = time.perf_counter()
        for start in range(0, deals, 5000):
            batch = []
            for i in range(start, min(deals, start + 5000)):
                channel = i % 5 == 0
                data = {"workflow": "channel" if channel else "standard",
                        "account": f"acct-{i}", "owner": f"rep-{i % 12:02d}",
                        "amount": f"{1000 + (i * 37) % 90000}.00", "currency": "CNY",
                        "expected_close": f"2026-{1 + i % 6:02d}-15"}
                if channel:
                    data["partner"] = f"partner-{i % 7}"
                fact = {"id": f"open-{i}", "type": "deal.opened", "source": "bench",
                        "time": f"2026-01-{1 + i % 28:02d}T10:00:00+08:00",
                        "subject": f"deal-{i}", "data": data}
                batch.append(RawInput(json.dumps(fact).encode(), f"bench:{i}"))
            result = engine.ingestor.ingest(batch)
            assert result.accepted == len(batch), result.counts()
        return deals / (time.perf_counter() - started)
    finally:
        engine.close()


class Server:
    """``dealflow serve`` in a subprocess; ready once the views caught up."""

    def __init__(self, url: str, token: str, **env: str) -> None:
        import socket

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = int(sock.getsockname()[1])
        self.base = f"http://127.0.0.1:{self.port}"
        started = time.perf_counter()
        self.process = subprocess.Popen(
            [str(BIN / "dealflow"), "serve", "--db", url, "--port", str(self.port),
             "--log-level", "warning"],
            env={**os.environ, "DEALFLOW_SLA_TIMER_INTERVAL": "0", **env},
            stdout=subprocess.DEVNULL)
        self.client = httpx.Client(base_url=self.base, timeout=300, verify=TLS,
                                   headers={"Authorization": f"Bearer {token}"})
        while True:
            try:
                if self.client.get("/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.perf_counter() - started > 900:
                raise RuntimeError("the server did not get ready")
            time.sleep(0.1)
        self.ready_after = time.perf_counter() - started

    def stop(self) -> None:
        self.client.close()
        self.process.terminate()
        self.process.wait(timeout=60)


def latencies(client: httpx.Client, path: str, n: int) -> list[float]:
    """Seconds per request, ``n`` sequential requests."""
    found = []
    for _ in range(n):
        started = time.perf_counter()
        response = client.get(path)
        found.append(time.perf_counter() - started)
        assert response.status_code == 200, response.text[:300]
    return found


def summary(values: list[float]) -> str:
    ms = sorted(v * 1000 for v in values)
    p99 = ms[min(len(ms) - 1, round(0.99 * (len(ms) - 1)))]
    return (f"p50 {statistics.median(ms):7.1f} ms  p99 {p99:7.1f} ms  max {ms[-1]:7.1f} ms  "
            f"(n={len(ms)})")


class Writer:
    """Posts activities on open deals at ``rate`` facts/s (batches of 10) until stopped."""

    def __init__(self, base: str, token: str, deals: int, rate: float) -> None:
        self.client = httpx.Client(base_url=base, timeout=60, verify=TLS,
                                   headers={"Authorization": f"Bearer {token}"})
        self.deals, self.rate = deals, rate
        self.stop_event = threading.Event()
        self.sent = 0
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        i = 0
        while not self.stop_event.is_set():
            batch = [{"id": f"act-{i + k}", "type": "activity.logged", "source": "bench",
                      "time": "2026-01-29T10:00:00+08:00",
                      "subject": f"deal-{(i + k) * 7919 % self.deals}",
                      "data": {"kind": "call"}} for k in range(10)]
            self.client.post("/v1/facts/batch", json=batch).raise_for_status()
            i += 10
            self.sent += 10
            self.stop_event.wait(10 / self.rate)

    def __enter__(self) -> Writer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_event.set()
        self.thread.join()
        self.client.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--deals", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--write-rate", type=float, default=200.0)
    parser.add_argument("--uncached-requests", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/pipeline.db"
        rate = fill(url, args.deals)
        print(f"opened {args.deals:,} deals through the ingestor at {rate:,.0f} facts/s")
        engine = sql_engine(url)
        token = TokenStore(engine).create(Role.ADMIN, "bench").secret
        engine.dispose()

        server = Server(url, token)
        print(f"server ready (views caught up) after {server.ready_after:.1f} s")
        try:
            by_stage = server.client.get("/v1/pipeline/open_by_stage",
                                         params={"limit": 1000})
            assert by_stage.status_code == 200, by_stage.text[:500]
            open_deals = sum(r["deals"] for r in by_stage.json()["items"])
            print(f"open deals in the pipeline view: {open_deals:,}")
            rows = [("baseline: GET /healthz", latencies(server.client, "/healthz",
                                                        args.requests))]
            for path in ("/v1/pipeline", "/v1/pipeline/open_by_stage"):
                latencies(server.client, path, 5)  # warm the report
                rows.append((f"GET {path}", latencies(server.client, path, args.requests)))
            with Writer(server.base, token, args.deals, args.write_rate) as writer:
                time.sleep(1)
                rows.append((f"GET /v1/pipeline, writer at {args.write_rate:.0f} facts/s",
                             latencies(server.client, "/v1/pipeline", args.requests)))
            print(f"(the writer posted {writer.sent:,} facts meanwhile)")
        finally:
            server.stop()
        uncached = Server(url, token, DEALFLOW_API_REPORT_MAX_AGE="0",
                          DEALFLOW_API_REPORT_STALE_SECONDS="0")
        try:
            rows.append(("baseline: GET /v1/pipeline computed per request (no cache)",
                         latencies(uncached.client, "/v1/pipeline", args.uncached_requests)))
        finally:
            uncached.stop()
    width = max(len(label) for label, _ in rows)
    for label, values in rows:
        print(f"{label:<{width}}  {summary(values)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
