"""Overload: ``dealflow serve`` offered ten times the rate it sustains; its memory must stay
within 300 MB of idle, and the excess be refused at once (503 with Retry-After).

    python3 dev.py bench overload [--seconds 30] [--factor 10] [--batch 500] [--db URL]

A real ``dealflow serve`` process (views in their child process, SLA timer off) on a fresh
store (default: a SQLite file in a temporary folder; ``--db`` a PostgreSQL URL of an empty
database). In the same run:
1. idle: RSS of the serving process plus its children, after start-up;
2. sustainable rate: four closed-loop clients post batches of ``--batch`` new deals for
   ``--seconds`` / 2; accepted facts/s;
3. overload: an open-loop client offers ``--factor`` times that rate (requests started on
   schedule whatever the answers, up to 1,024 in flight) for ``--seconds``; RSS sampled
   every 0.2 s.
Prints idle and peak RSS and their difference against the 300 MB bound, the answers by
status, accepted facts/s under overload as a ratio of the sustainable rate, and the p50 and
p99 time to a 503. Never part of the test suite.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.api.serving import ServeProcess, token  # noqa: E402

BOUND_MB = 300.0
_TEMPLATE = ('{{"id":"ov-{n}","type":"deal.opened","source":"overload","time":'
             '"2026-01-05T10:00:00+08:00","subject":"OV-{n}","actor":"rep-01","data":'
             '{{"workflow":"standard","account":"acct-{n}","owner":"rep-01",'
             '"amount":"10000.00","currency":"CNY"}}}}')


class Facts:
    """New deals, numbered, as NDJSON bodies."""

    def __init__(self) -> None:
        self.next = 0
        self.lock = threading.Lock()

    def body(self, size: int) -> bytes:
        with self.lock:
            start, self.next = self.next, self.next + size
        return "\n".join(_TEMPLATE.format(n=n) for n in range(start, start + size)).encode()


def _rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            found.extend(int(c) for c in (task / "children").read_text().split())
    return found


def rss_mb(pid: int) -> float:
    """Resident memory of a process and its descendants, MB (from /proc)."""
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        total += _rss_kb(current)
        todo.extend(_children(current))
    return total * 1024 / 1e6


class Sampler(threading.Thread):
    """Samples ``rss_mb`` every 0.2 s until stopped; keeps the peak."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak = 0.0
        self.samples: list[float] = []
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.2):
            value = rss_mb(self.pid)
            self.samples.append(value)
            self.peak = max(self.peak, value)


async def closed_loop(base: str, headers: dict[str, str], facts: Facts, batch: int,
                      seconds: float, clients: int = 4) -> float:
    """Accepted facts/s of ``clients`` clients each posting one batch after the other."""
    accepted = 0
    deadline = time.monotonic() + seconds

    async def client() -> None:
        nonlocal accepted
        async with httpx.AsyncClient(base_url=base, headers=headers, timeout=120) as http:
            while time.monotonic() < deadline:
                response = await http.post("/v1/facts/batch", content=facts.body(batch))
                if response.status_code == 200:
                    accepted += response.json()["accepted"]

    started = time.monotonic()
    await asyncio.gather(*(client() for _ in range(clients)))
    return accepted / (time.monotonic() - started)


async def open_loop(base: str, headers: dict[str, str], facts: Facts, batch: int,
                    rate: float, seconds: float) -> tuple[Counter[str], int, list[float], float]:
    """Start a request every ``batch / rate`` seconds for ``seconds``: statuses, accepted
    facts, seconds to each 503, elapsed."""
    statuses: Counter[str] = Counter()
    refusals: list[float] = []
    accepted = 0
    interval = batch / rate
    limits = httpx.Limits(max_connections=1024, max_keepalive_connections=1024)
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=120,
                                 limits=limits) as http:
        async def one() -> None:
            nonlocal accepted
            body = facts.body(batch)
            started = time.monotonic()
            try:
                response = await http.post("/v1/facts/batch", content=body)
            except httpx.HTTPError as exc:
                statuses[type(exc).__name__] += 1
                return
            statuses[str(response.status_code)] += 1
            if response.status_code == 200:
                accepted += response.json()["accepted"]
            elif response.status_code == 503:
                refusals.append(time.monotonic() - started)
                assert response.headers.get("retry-after"), "503 without Retry-After"

        tasks: set[asyncio.Task[None]] = set()
        started = time.monotonic()
        k = 0
        while (now := time.monotonic()) < started + seconds:
            due = started + k * interval
            if now < due:
                await asyncio.sleep(due - now)
            k += 1
            if len(tasks) >= 1024:
                statuses["not sent (1,024 in flight)"] += 1
                continue
            task = asyncio.create_task(one())
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        await asyncio.gather(*tasks)
        elapsed = time.monotonic() - started
    return statuses, accepted, refusals, elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--factor", type=float, default=10.0)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--db", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        db = args.db or f"sqlite:///{tmp}/overload.db"
        subprocess_env = {"DEALFLOW_SLA_TIMER_INTERVAL": "0"}
        with ServeProcess(db, tmp / "serve.log", env=subprocess_env,
                          args=("--log-level", "warning")) as server:
            assert server.proc is not None
            secret = token(db, "ingest", "overload")
            headers = {"Authorization": f"Bearer {secret}",
                       "content-type": "application/x-ndjson"}
            facts = Facts()
            time.sleep(2.0)
            idle = statistics.median(rss_mb(server.proc.pid) for _ in range(5))
            sampler = Sampler(server.proc.pid)
            sampler.start()
            sustainable = asyncio.run(closed_loop(server.url, headers, facts, args.batch,
                                                  args.seconds / 2))
            after_sustained = sampler.peak
            offered = sustainable * args.factor
            statuses, accepted, refusals, elapsed = asyncio.run(open_loop(
                server.url, headers, facts, args.batch, offered, args.seconds))
            time.sleep(1.0)
            sampler.done.set()
            sampler.join()
            settled = rss_mb(server.proc.pid)
        goodput = accepted / elapsed
        delta = sampler.peak - idle
        print(f"store: {db.split(':')[0]}; batches of {args.batch}; serve + views process")
        print(f"idle RSS: {idle:.0f} MB; peak at the sustainable rate: {after_sustained:.0f} MB")
        print(f"sustainable rate (4 closed-loop clients): {sustainable:,.0f} facts/s")
        print(f"offered under overload: {offered:,.0f} facts/s ({args.factor:g}x) for "
              f"{args.seconds:g} s; answers: {dict(statuses)}")
        print(f"accepted under overload: {goodput:,.0f} facts/s = "
              f"{goodput / sustainable:.2f}x the sustainable rate")
        if refusals:
            refusals.sort()
            print(f"time to a 503: p50 {refusals[len(refusals) // 2] * 1000:.1f} ms, p99 "
                  f"{refusals[int(len(refusals) * 0.99)] * 1000:.1f} ms")
        print(f"peak RSS under overload: {sampler.peak:.0f} MB = idle + {delta:.0f} MB "
              f"(bound: idle + {BOUND_MB:.0f} MB): {'OK' if delta <= BOUND_MB else 'OVER'}; "
              f"1 s after: {settled:.0f} MB")
        return 0 if delta <= BOUND_MB else 1


if __name__ == "__main__":
    sys.exit(main())
