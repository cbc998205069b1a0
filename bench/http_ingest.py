"""HTTP batch ingest throughput beside file ingest of the same facts, same run.

    python3 dev.py bench http_ingest [--facts 60000] [--batch 500] [--clients 2] [--runs 3]
                                     [--format ndjson|json]

Measures, on fresh SQLite files, medians over --runs:
- baseline: file ingest (``dealflow ingest``'s path: the JSONL read in batches of 1,000,
  straight into the ingestor), and the same with batches of --batch;
- HTTP: a real ``dealflow serve`` process (uvicorn) receiving the same facts as POST
  /v1/facts/batch of --batch facts each, from --clients concurrent keep-alive connections,
  each posting the facts of its share of the subjects in file order (as Kafka partitions
  would); facts/s from the first request to the last response. Once with the server's views
  off (run elsewhere; the same work as the file path), compared with file ingest;
- once as deployed, the views following live in the server's child process, timed until
  they caught up too, compared with file ingest followed by the views catching up;
and prints the ratios (target: at least 60 %). Outcome counts are checked equal.
Never part of the test suite.
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
import zlib
from collections import Counter
from pathlib import Path

import httpx

from engine.bootstrap import bootstrap
from engine.demo import write_jsonl
from engine.ingest.jsonl import read_batches
from engine.serve.tokens import Role, TokenStore
from engine.settings import Settings
from engine.store.sql import sql_engine

BIN = Path(sys.executable).parent


def file_ingest(url: str, path: Path, batch: int, views: bool = False
                ) -> tuple[float, Counter[str]]:
    """Facts/s of the file path (and then of bringing the views up to date); outcomes."""
    engine = bootstrap(Settings(db=url))
    counts: Counter[str] = Counter()
    try:
        started = time.perf_counter()
        for inputs in read_batches(path, batch):
            result = engine.ingestor.ingest(inputs)
            counts.update(o.status for o in result.outcomes)
        if views:
            runner = engine.runner()
            runner.catch_up()
            runner.stop()
        return sum(counts.values()) / (time.perf_counter() - started), counts
    finally:
        engine.close()


def subject_of(line: bytes) -> bytes:
    """The fact's subject (the routing key), or the whole line when unreadable."""
    try:
        return str(json.loads(line).get("subject", "")).encode()
    except (ValueError, AttributeError):
        return line


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """``dealflow serve`` in a subprocess on a fresh store, with an ingest token."""

    def __init__(self, url: str, views: bool = True) -> None:
        self.url = url
        engine = sql_engine(url)
        self.token = TokenStore(engine).create(Role.ADMIN, "bench").secret
        engine.dispose()
        self.port = free_port()
        env = {**os.environ, "DEALFLOW_SLA_TIMER_INTERVAL": "0",
               "DEALFLOW_SERVE_VIEWS": "true" if views else "false"}
        self.process = subprocess.Popen(
            [str(BIN / "dealflow"), "serve", "--db", url, "--port", str(self.port),
             "--log-level", "warning"], env=env, stdout=subprocess.DEVNULL)
        self.base = f"http://127.0.0.1:{self.port}"
        for _ in range(600):
            try:
                if httpx.get(f"{self.base}/readyz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise RuntimeError("dealflow serve did not become ready")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=60)


def http_ingest(url: str, lines: list[bytes], batch: int, clients: int, fmt: str,
                views: bool = True) -> tuple[float, Counter[str]]:
    """Facts/s over HTTP (until the views caught up too, when the server runs them);
    outcome counts."""
    server = Server(url, views)
    tls = ssl.create_default_context()
    try:
        # Like Kafka partitions: each client posts the facts of its own subjects, in file
        # order, so every deal's facts arrive in order (decisions equal the file path's).
        streams: list[list[bytes]] = [[] for _ in range(clients)]
        for line in lines:
            streams[zlib.crc32(subject_of(line)) % clients].append(line)
        if fmt == "ndjson":
            def body(chunk: list[bytes]) -> bytes:
                return b"\n".join(chunk)
            content_type = "application/x-ndjson"
        else:
            def body(chunk: list[bytes]) -> bytes:
                return b"[" + b",".join(chunk) + b"]"
            content_type = "application/json"
        bodies = [[body(stream[i:i + batch]) for i in range(0, len(stream), batch)]
                  for stream in streams]
        lock = threading.Lock()
        counts: Counter[str] = Counter()
        errors: list[str] = []
        headers = {"Authorization": f"Bearer {server.token}", "content-type": content_type}

        def work(mine: list[bytes]) -> None:
            with httpx.Client(base_url=server.base, headers=headers, timeout=120,
                              verify=tls) as client:
                for content in mine:
                    response = client.post("/v1/facts/batch", content=content)
                    if response.status_code != 200:
                        errors.append(response.text)
                        return
                    found = Counter(o["status"] for o in response.json()["outcomes"])
                    with lock:
                        counts.update(found)

        threads = [threading.Thread(target=work, args=(mine,)) for mine in bodies]
        started = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if views:  # the same work as the file path plus the views: wait for them
            with httpx.Client(base_url=server.base, headers=headers, verify=tls) as client:
                while client.get("/readyz").json()["views"] and any(
                        v["lag"] for v in client.get("/v1/views").json()["views"]):
                    time.sleep(0.05)
        elapsed = time.perf_counter() - started
        if errors:
            raise RuntimeError(errors[0][:500])
        return len(lines) / elapsed, counts
    finally:
        server.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--facts", type=int, default=60_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--clients", type=int, default=2)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--format", choices=["ndjson", "json"], default="ndjson")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        path = tmp / "facts.jsonl"
        counts = write_jsonl(path, 7, max(1, round(args.facts / 12)))
        lines = [line.rstrip(b"\n") for line in path.read_bytes().splitlines() if line.strip()]
        print(f"facts: {len(lines):,} ({counts.good:,} good, {counts.duplicates:,} duplicates, "
              f"{counts.bad:,} bad); {args.runs} runs each, medians")
        n = iter(range(1000))
        results: dict[str, list[float]] = {}
        outcome_sets: dict[str, Counter[str]] = {}
        http = f"HTTP POST /v1/facts/batch ({args.format}, {args.batch}/request, " \
               f"{args.clients} clients)"
        measures = [
            ("file ingest, batches of 1,000 (dealflow ingest)",
             lambda: file_ingest(f"sqlite:///{tmp}/f{next(n)}.db", path, 1000)),
            (f"file ingest, batches of {args.batch}",
             lambda: file_ingest(f"sqlite:///{tmp}/g{next(n)}.db", path, args.batch)),
            (f"{http}, views in another process",
             lambda: http_ingest(f"sqlite:///{tmp}/h{next(n)}.db", lines, args.batch,
                                 args.clients, args.format, views=False)),
            ("file ingest (1,000), then the views catch up",
             lambda: file_ingest(f"sqlite:///{tmp}/v{next(n)}.db", path, 1000, views=True)),
            (f"{http}, views following live, until caught up",
             lambda: http_ingest(f"sqlite:///{tmp}/w{next(n)}.db", lines, args.batch,
                                 args.clients, args.format, views=True)),
        ]
        for _ in range(args.runs):
            for label, measure in measures:
                rate, outcomes = measure()
                results.setdefault(label, []).append(rate)
                outcome_sets[label] = outcomes
    distinct = {json.dumps(dict(sorted(c.items()))) for c in outcome_sets.values()}
    labels = list(results)
    width = max(map(len, labels))
    for index, label in enumerate(labels):
        # HTTP without views against the file path; with views against file + catch-up.
        base = statistics.median(results[labels[0 if index < 3 else 3]])
        rate = statistics.median(results[label])
        print(f"{label:<{width}}  {rate:>9,.0f} facts/s  = {rate / base:6.1%} of its "
              f"baseline  (runs: {', '.join(f'{v:,.0f}' for v in results[label])})")
    print("outcomes identical across paths:", len(distinct) == 1, next(iter(distinct)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
