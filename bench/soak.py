"""Soak: ``dealflow serve`` for half an hour at 1,000 facts/s over HTTP and Kafka together,
views live and the SLA timer on; memory, view lag and latencies must stay flat.

    python3 dev.py bench soak [--minutes 30] [--rate 1000] [--kafka-share 0.5] [--db URL]
                              [--warmup 5]

A real ``dealflow serve`` process (views and SLA timer in its child process, the timer
ticking every 5 s; ``serve_kafka`` on, consuming from a private Tansu broker started here)
on a fresh store (default SQLite; ``--db`` an empty PostgreSQL database). Each second, one
HTTP batch POST and one burst of Kafka messages carry ``--rate`` facts between them: new
deals opened (time: now - 24 h + 2 min), a call one minute later, the first contact moved,
and for half of them the thank-you e-mail; so thank-you deadlines fall due three minutes
after each deal arrives and the timer records live breaches all along.

Each minute it samples the RSS of serve and its children (a reading then, and the median of
a reading every ``--rss-every`` seconds over the minute: serve's RSS moves by tens of MB
within a minute, so the median is the steadier estimate; both slopes are printed), the view
lag (log head minus the slowest view's position, from /readyz), the size of a SQLite
store's WAL, the p99 of batch POST latency and the p99 of append-to-visible (from a POST's
answer to the views reaching its position, probed every 20 ms). It prints a row per minute
and, after ``--warmup`` minutes, the least-squares slope of each (RSS in MB per 10 minutes:
flat means < 1).
Meanwhile it scrapes /metrics every ``--scrape-every`` seconds (15, as Prometheus would;
the view gauges included) and prints each minute's slowest scrape, marked ``(no SLA)``
while the SLA counts' first reading is not done. Never part of the test suite.

``--probe-memory`` finds what grows: serve and its views child then start with a
``sitecustomize`` (this run's only) that traces allocations (one frame) and, on SIGUSR2,
writes the live objects by type and the allocations by source line; the soak signals each
process after the warm-up and at the end and prints, per process, what grew most between
the two, and its memory by kind first -> last: what tracemalloc traced, Python's object
arenas (pymalloc, outside malloc), SQLite's own heap (``sqlite3_memory_used``), glibc
malloc's arenas split into in use and free-but-kept (``mallinfo2``), large blocks mmap'd,
and RSS split into anonymous, file and shared. Tracing slows both processes, and a dump's
own allocations leave slack that later growth fills unseen: measure slopes without it, or
with ``--probe-memory light`` (the same dumps without tracing allocations by line). The
slope of serve alone (without its views child) is printed beside the total.

``--serve-env NAME=VALUE`` (repeatable) passes an environment variable to serve, e.g.
``MALLOC_ARENA_MAX=16`` (glibc's own limit on 2 cores) to measure serve as it was before
it capped its malloc arenas (:mod:`engine.serve.malloc`), in the same run as without.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.overload import _children, _rss_kb, rss_mb  # noqa: E402
from tests.api.serving import ServeProcess, token  # noqa: E402

TOPIC = "soak.facts"

#: The ``sitecustomize`` of ``--probe-memory``: on SIGUSR2 a process writes its live objects
#: by type and its traced allocations by line to ``$DEALFLOW_BENCH_MEMPROBE/mem-PID-N.json``.
MEMPROBE = """
import os
if os.environ.get("DEALFLOW_BENCH_MEMPROBE"):
    import collections, gc, itertools, json, signal, sys, tempfile, tracemalloc
    if os.environ.get("DEALFLOW_BENCH_MEMPROBE_TRACE"):
        tracemalloc.start(1)
    _n = itertools.count()

    def _pymalloc_arenas():
        # Python's own object allocator maps 1 MiB arenas outside malloc (mallinfo2 misses
        # them): its count, from the stats CPython prints to fd 2.
        with tempfile.TemporaryFile(mode="w+") as f:
            saved = os.dup(2)
            os.dup2(f.fileno(), 2)
            try:
                sys._debugmallocstats()
            finally:
                os.dup2(saved, 2)
                os.close(saved)
            f.seek(0)
            for line in f:
                if line.startswith("# arenas allocated current"):
                    return int(line.split("=")[1].replace(",", "")) << 20
        return 0

    def _native():
        # What tracemalloc cannot see: SQLite's own heap (page caches, statements), glibc
        # malloc's arenas (in use, free but kept), the threads, and RSS split by kind.
        import ctypes, threading
        out = {"traced": tracemalloc.get_traced_memory()[0], "threads": threading.active_count(),
               "pymalloc_arenas": _pymalloc_arenas(),
               # every live block of Python's allocator, objects gc does not track included
               # (str, bytes, int, datetime): growing = live objects; flat = fragmentation
               "pymalloc_blocks_k": sys.getallocatedblocks() * 1000}
        try:
            lib = ctypes.CDLL("libsqlite3.so.0")
            lib.sqlite3_memory_used.restype = ctypes.c_int64
            out["sqlite"] = lib.sqlite3_memory_used()
        except (OSError, AttributeError):
            pass
        try:
            class Info(ctypes.Structure):
                _fields_ = [(n, ctypes.c_size_t) for n in (
                    "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks",
                    "uordblks", "fordblks", "keepcost")]
            libc = ctypes.CDLL("libc.so.6")
            libc.mallinfo2.restype = Info
            info = libc.mallinfo2()
            out.update({"malloc_arena": info.arena, "malloc_mmap": info.hblkhd,
                        "malloc_used": info.uordblks, "malloc_free": info.fordblks})
        except (OSError, AttributeError):
            pass
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(("RssAnon", "RssFile", "RssShmem")):
                    out[line.split(":")[0]] = int(line.split()[1]) * 1024
        return out

    def _dump(_signum, _frame):
        everything = gc.get_objects()
        types = collections.Counter(type(o).__qualname__ for o in everything)
        # The largest containers and what holds them (an attribute's name and its object's
        # type): a growing one names its owner.
        big = sorted(((len(o), id(o), o) for o in everything
                      if isinstance(o, (dict, list, set, collections.deque)) and len(o) > 2000),
                     key=lambda t: t[0], reverse=True)[:25]
        # Running functions' locals are no object's referents (3.11 frames): look there too.
        stacks = []
        for frame in sys._current_frames().values():
            while frame is not None:
                if frame.f_code.co_name != "_dump":
                    stacks.append(frame)
                frame = frame.f_back
        for size, _, held in big:
            where = []
            for h in gc.get_referrers(held):
                if h is everything or h is big or isinstance(h, tuple):
                    continue  # the dump's own lists, a closure or argument tuple
                if isinstance(h, dict):
                    name = next((str(k) for k, v in h.items() if v is held), "?")
                    owner = next((type(r).__qualname__ for r in gc.get_referrers(h)
                                  if getattr(r, "__dict__", None) is h), "dict")
                    where.append(f"{owner}.{name}")
                elif type(h).__name__ == "cell":
                    # A closure's variable: name the function (cell -> closure -> function).
                    funcs = [f"{f.__module__}.{f.__qualname__}"
                             for t in gc.get_referrers(h) if isinstance(t, tuple)
                             for f in gc.get_referrers(t) if getattr(f, "__closure__", None) is t]
                    if funcs:  # none: this dump's own variable
                        where.append("closure of " + funcs[0])
                else:
                    where.append(type(h).__qualname__)
            for frame in stacks:
                where += [f"local {k} of {frame.f_code.co_qualname}"
                          for k, v in frame.f_locals.items() if v is held]
            label = f"<{type(held).__name__} held by {','.join(where[:3]) or '?'}>"
            while label in types:  # two containers with the same owner: both kept
                label += "'"
            types[label] = size
        del stacks
        del everything, big
        lines = (tracemalloc.take_snapshot().statistics("lineno")
                 if tracemalloc.is_tracing() else [])
        path = os.path.join(os.environ["DEALFLOW_BENCH_MEMPROBE"],
                            f"mem-{os.getpid()}-{next(_n)}.json")
        with open(path + ".tmp", "w") as out:
            json.dump({"types": dict(types), "native": _native(),
                       "lines": {str(s.traceback[0]): s.size for s in lines[:2000]}}, out)
        os.replace(path + ".tmp", path)

    signal.signal(signal.SIGUSR2, _dump)
"""


def _stamp(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def deal_facts(prefix: str, n: int, now: datetime) -> list[bytes]:
    """The facts of deal ``n``: opened, a call, first contact, maybe the thank-you."""
    subject = f"{prefix}-{n}"
    opened_at = now - timedelta(hours=24) + timedelta(minutes=2)
    call_at = opened_at + timedelta(minutes=1)

    def fact(kind: str, at: datetime, data: dict[str, object], k: int) -> bytes:
        return json.dumps({"id": f"{subject}-{k}", "type": kind, "source": "soak",
                           "time": _stamp(at), "subject": subject, "actor": "rep-01",
                           "data": data}).encode()

    facts = [
        fact("deal.opened", opened_at, {"workflow": "standard", "account": f"a-{n}",
                                        "owner": f"rep-{n % 20:02d}", "amount": "1000.00",
                                        "currency": "CNY"}, 0),
        fact("activity.logged", call_at, {"kind": "call", "purpose": "first_call"}, 1),
        fact("deal.stage_changed", call_at + timedelta(seconds=30), {"to": "contact"}, 2),
    ]
    if n % 2 == 0:
        facts.append(fact("activity.logged", call_at + timedelta(hours=2),
                          {"kind": "email", "purpose": "thank_you"}, 3))
    return facts


class Facts:
    """An endless stream of facts for one channel, whole deals in order."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.counter = itertools.count()
        self.pending: deque[bytes] = deque()

    def take(self, count: int) -> list[bytes]:
        now = datetime.now(UTC)
        while len(self.pending) < count:
            self.pending.extend(deal_facts(self.prefix, next(self.counter), now))
        return [self.pending.popleft() for _ in range(count)]


class Samples:
    """What the minute's threads observed (lists swapped out each minute)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.post_seconds: list[float] = []
        self.visible_seconds: list[float] = []
        self.errors: list[str] = []
        self.scrape_seconds: list[float] = []
        self.sla_series = 0  # SLA gauge series in the last scrape (0: not read yet)
        self.posted = 0
        self.produced = 0
        self.rss: list[tuple[float, float]] = []  # (serve and children, serve alone), MB

    def swap(self) -> tuple[list[float], list[float], list[str]]:
        with self.lock:
            out = (self.post_seconds, self.visible_seconds, self.errors)
            self.post_seconds, self.visible_seconds, self.errors = [], [], []
        return out

    def swap_scrapes(self) -> list[float]:
        with self.lock:
            out, self.scrape_seconds = self.scrape_seconds, []
        return out

    def swap_rss(self) -> list[tuple[float, float]]:
        with self.lock:
            out, self.rss = self.rss, []
        return out


def rss_loop(pid: int, every: float, samples: Samples, stop: threading.Event) -> None:
    """RSS of serve and its children, and of serve alone, every ``every`` seconds: serve's
    RSS moves by tens of MB within a minute (a Kafka fetch, a batch in flight, freed
    chunks between heap trims), so one reading a minute is a noisy estimate of its level;
    the minute's median of these is a steadier one."""
    while not stop.wait(every):
        sample = (rss_mb(pid), _rss_kb(pid) / 1e3)
        with samples.lock:
            samples.rss.append(sample)


def p99(values: list[float]) -> float:
    """The 99th percentile (nearest rank), 0 for none."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def slope(xs: list[float], ys: list[float]) -> float:
    """Least-squares slope of ys over xs."""
    if len(xs) < 2:
        return 0.0
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / den if den else 0.0


def ticks(stop: threading.Event) -> Iterator[None]:
    """Once a second, on schedule, until ``stop``."""
    start = time.monotonic()
    for k in itertools.count(1):
        if stop.wait(max(0.0, start + k - time.monotonic())):
            return
        yield None


def http_loop(base: str, secret: str, per_second: int, samples: Samples,
              stop: threading.Event, positions: deque[tuple[float, int]]) -> None:
    facts = Facts("SH")
    headers = {"Authorization": f"Bearer {secret}", "content-type": "application/x-ndjson"}
    with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
        for _ in ticks(stop):
            body = b"\n".join(facts.take(per_second))
            started = time.monotonic()
            try:
                response = client.post("/v1/facts/batch", content=body)
            except httpx.HTTPError as exc:
                with samples.lock:
                    samples.errors.append(f"POST: {exc}")
                continue
            answered = time.monotonic()
            with samples.lock:
                samples.post_seconds.append(answered - started)
                if response.status_code == 200:
                    samples.posted += per_second
                    positions.append((answered, int(response.json()["position"])))
                else:
                    samples.errors.append(f"POST {response.status_code}")


def kafka_loop(servers: str, per_second: int, samples: Samples, stop: threading.Event
               ) -> None:
    import kafka

    facts = Facts("SK")
    producer = kafka.KafkaProducer(bootstrap_servers=servers, acks="all", linger_ms=20)
    try:
        for _ in ticks(stop):
            for raw in facts.take(per_second):
                subject = json.loads(raw)["subject"].encode()
                producer.send(TOPIC, value=raw, key=subject)
            producer.flush(timeout=30)
            with samples.lock:
                samples.produced += per_second
    finally:
        producer.close(timeout=10)


def visible_loop(base: str, samples: Samples, stop: threading.Event,
                 positions: deque[tuple[float, int]]) -> None:
    with httpx.Client(base_url=base, timeout=10) as client:
        while not stop.wait(0.02):
            if not positions:
                continue
            try:
                views = client.get("/readyz").json()["views"]
            except (httpx.HTTPError, ValueError, KeyError):
                continue
            if not views:
                continue
            reached = min(views.values())
            now = time.monotonic()
            while positions and positions[0][1] <= reached:
                answered, _ = positions.popleft()
                with samples.lock:
                    samples.visible_seconds.append(now - answered)


def scrape_loop(base: str, secret: str, every: float, samples: Samples,
                stop: threading.Event) -> None:
    """Scrape /metrics every ``every`` seconds, as Prometheus would: its time, and whether
    the SLA gauges were in it."""
    headers = {"Authorization": f"Bearer {secret}"}
    with httpx.Client(base_url=base, timeout=60, headers=headers) as client:
        while not stop.wait(every):
            started = time.monotonic()
            try:
                text = client.get("/metrics").text
            except httpx.HTTPError as exc:
                with samples.lock:
                    samples.errors.append(f"scrape: {exc!r}")
                continue
            with samples.lock:
                samples.scrape_seconds.append(time.monotonic() - started)
                samples.sla_series = text.count("\ndealflow_sla_instances{")


def view_lag(base: str) -> int:
    with contextlib.suppress(httpx.HTTPError, ValueError, KeyError):
        body = httpx.get(f"{base}/readyz", timeout=10).json()
        if body["views"] and body["head"] is not None:
            return int(body["head"]) - int(min(body["views"].values()))
    return -1


def _raised(output: str) -> list[str]:
    """The line naming the exception of each traceback in ``output`` (and the log line
    before it)."""
    lines, found = output.splitlines(), []
    for i, line in enumerate(lines):
        if line.startswith("Traceback"):
            end = next((j for j in range(i + 1, len(lines))
                        if lines[j] and not lines[j].startswith(" ")), None)
            before = lines[i - 1][:160] if i else ""
            found.append(f"{before} | {lines[end][:200] if end is not None else '?'}")
    return found


def wal_mb(db: str) -> str:
    """The size of a SQLite store's write-ahead log now (MB), or "-"."""
    if not db.startswith("sqlite:///"):
        return "-"
    with contextlib.suppress(OSError):
        return f"{os.path.getsize(db.removeprefix('sqlite:///') + '-wal') / 1e6:.0f}"
    return "0"


def _tree(pid: int) -> list[int]:
    """``pid`` and its descendants, oldest first (serve, then its views child, ...)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop(0)
        found.append(current)
        todo.extend(sorted(_children(current)))
    return found


def _signal_dumps(pids: list[int]) -> None:
    import signal

    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGUSR2)
    time.sleep(15)  # a snapshot of a few hundred MB takes seconds


def _growth(folder: Path) -> None:
    """Per process, what grew most between its first and its last dump."""
    dumps: dict[str, list[Path]] = {}
    for path in sorted(folder.glob("mem-*.json"), key=lambda p: int(p.stem.split("-")[2])):
        dumps.setdefault(path.stem.split("-")[1], []).append(path)
    for pid, paths in dumps.items():
        if len(paths) < 2:
            continue
        first, last = (json.loads(p.read_text()) for p in (paths[0], paths[-1]))
        print(f"process {pid}: memory by kind, MB first -> last")
        for key, value in last.get("native", {}).items():
            before = first.get("native", {}).get(key, 0)
            scale = 1 if key == "threads" else 1e6
            print(f"  {key:<40} {before / scale:>10,.1f} -> {value / scale:>10,.1f} "
                  f"({(value - before) / scale:+,.1f})")
        print(f"process {pid}: objects that grew most (count first -> last)")
        grew = sorted(((last["types"][k] - first["types"].get(k, 0), k)
                       for k in last["types"]), reverse=True)[:12]
        for delta, name in grew:
            print(f"  {name:<40} {first['types'].get(name, 0):>10,} -> "
                  f"{last['types'][name]:>10,} (+{delta:,})")
        print(f"process {pid}: allocations that grew most, by line (KB first -> last)")
        lines = sorted(((size - first["lines"].get(k, 0), k)
                        for k, size in last["lines"].items()), reverse=True)[:15]
        for delta, where in lines:
            print(f"  {where:<70} {first['lines'].get(where, 0) / 1e3:>9,.0f} -> "
                  f"{last['lines'][where] / 1e3:>9,.0f} (+{delta / 1e3:,.0f})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=int, default=30)
    parser.add_argument("--rate", type=int, default=1000)
    parser.add_argument("--kafka-share", type=float, default=0.5)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--db", default=None)
    parser.add_argument("--probe-memory", nargs="?", const="trace", default=None,
                        choices=("trace", "light"),
                        help="dump serve's and its child's memory by kind after the warm-up "
                             "and at the end; print what grew ('trace', the default: also "
                             "trace allocations by line, slowing both; 'light': no tracing)")
    parser.add_argument("--rss-every", type=float, default=5.0,
                        help="seconds between RSS readings; each minute's median is printed "
                             "beside its one reading, with its own slope")
    parser.add_argument("--scrape-every", type=float, default=15.0,
                        help="seconds between /metrics scrapes, as Prometheus would (0: none)")
    parser.add_argument("--serve-env", action="append", default=[], metavar="NAME=VALUE",
                        help="an environment variable for serve (repeatable), e.g. "
                             "MALLOC_ARENA_MAX=16 for glibc's own arena limit on 2 cores")
    args = parser.parse_args()
    from tests.infra import TansuBroker

    kafka_rate = round(args.rate * args.kafka_share)
    http_rate = args.rate - kafka_rate
    with tempfile.TemporaryDirectory() as tmp_name, contextlib.ExitStack() as stack:
        tmp = Path(tmp_name)
        broker = TansuBroker()
        broker.start()
        stack.callback(broker.stop)
        db = args.db or f"sqlite:///{tmp}/soak.db"
        secret = token(db, "admin", "soak")
        env = {"DEALFLOW_SERVE_KAFKA": "true", "DEALFLOW_KAFKA_BOOTSTRAP": broker.bootstrap,
               "DEALFLOW_KAFKA_TOPICS": TOPIC, "DEALFLOW_KAFKA_PARTITIONS": "2",
               "DEALFLOW_SLA_TIMER_INTERVAL": "5"}
        env.update(item.split("=", 1) for item in args.serve_env)
        probes = tmp / "memprobe"
        if args.probe_memory:
            probes.mkdir()
            (probes / "sitecustomize.py").write_text(MEMPROBE)
            env["PYTHONPATH"] = os.pathsep.join(
                [str(probes), *filter(None, [os.environ.get("PYTHONPATH")])])
            env["DEALFLOW_BENCH_MEMPROBE"] = str(probes)
            if args.probe_memory == "trace":
                env["DEALFLOW_BENCH_MEMPROBE_TRACE"] = "1"
        server = ServeProcess(db, tmp / "serve.log", env=env, args=("--log-level", "warning"))
        server.start(ready_within=120)
        stack.callback(server.stop)
        assert server.proc is not None
        print(f"soak: {args.minutes} min at {args.rate} facts/s ({http_rate} HTTP, "
              f"{kafka_rate} Kafka), store {db.split(':')[0]}, SLA timer every 5 s"
              + "".join(f", {item}" for item in args.serve_env), flush=True)
        print(f"idle RSS {rss_mb(server.proc.pid):.0f} MB", flush=True)
        samples, stop = Samples(), threading.Event()
        positions: deque[tuple[float, int]] = deque()
        threads = [
            threading.Thread(target=http_loop, args=(server.url, secret, http_rate, samples,
                                                     stop, positions), daemon=True),
            threading.Thread(target=kafka_loop, args=(broker.bootstrap, kafka_rate, samples,
                                                      stop), daemon=True),
            threading.Thread(target=visible_loop, args=(server.url, samples, stop,
                                                        positions), daemon=True),
        ]
        threads.append(threading.Thread(target=rss_loop, args=(
            server.proc.pid, args.rss_every, samples, stop), daemon=True))
        if args.scrape_every > 0:
            threads.append(threading.Thread(target=scrape_loop, args=(
                server.url, secret, args.scrape_every, samples, stop), daemon=True))
        for thread in threads:
            thread.start()
        rows: list[tuple[int, float, int, float, float]] = []
        parent_mb: list[float] = []  # serve itself, without its views child
        medians: list[tuple[float, float]] = []  # the minute's median (all, serve alone)
        print(f"{'min':>4} {'RSS MB':>8} {'median':>7} {'per process':>16} {'lag':>8} "
              f"{'POST p99 ms':>12} "
              f"{'visible p99 ms':>15} {'scrape max ms':>14} {'posted':>9} {'produced':>9} "
              f"{'WAL MB':>7} {'load':>5} errors",
              flush=True)
        started = time.monotonic()
        try:
            for minute in range(1, args.minutes + 1):
                time.sleep(max(0.0, started + 60 * minute - time.monotonic()))
                posts, visible, errors = samples.swap()
                scrapes = samples.swap_scrapes()
                row = (minute, rss_mb(server.proc.pid), view_lag(server.url),
                       p99(posts) * 1000, p99(visible) * 1000)
                rows.append(row)
                each = "/".join(f"{_rss_kb(p) / 1e3:.0f}" for p in _tree(server.proc.pid))
                parent_mb.append(_rss_kb(server.proc.pid) / 1e3)
                minute_rss = samples.swap_rss() or [(row[1], parent_mb[-1])]
                medians.append((statistics.median(r[0] for r in minute_rss),
                                statistics.median(r[1] for r in minute_rss)))
                scraped = (f"{max(scrapes) * 1000:.0f}"
                           f"{'' if samples.sla_series else ' (no SLA)'}" if scrapes else "-")
                print(f"{row[0]:>4} {row[1]:>8.1f} {medians[-1][0]:>7.1f} {each:>16} {row[2]:>8} "
                      f"{row[3]:>12.1f} "
                      f"{row[4]:>15.1f} {scraped:>14} {samples.posted:>9} {samples.produced:>9} "
                      f"{wal_mb(db):>7} {os.getloadavg()[0]:>5.1f} {len(errors)}"
                      f"{' ' + errors[0] if errors else ''}", flush=True)
                if args.probe_memory and minute in (args.warmup, args.minutes):
                    _signal_dumps(_tree(server.proc.pid))
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=60)
        steady = [r for r in rows if r[0] > args.warmup]
        xs = [float(r[0]) for r in steady]
        print(f"after {args.warmup} min of warm-up ({len(steady)} samples), slopes:")
        print(f"  RSS: {slope(xs, [r[1] for r in steady]) * 10:+.2f} MB per 10 min "
              f"(flat: < 1); serve alone "
              f"{slope(xs, parent_mb[args.warmup:]) * 10:+.2f} MB per 10 min (one reading a "
              f"minute)")
        print(f"  RSS, each minute's median of a reading every {args.rss_every:g} s: "
              f"{slope(xs, [m[0] for m in medians[args.warmup:]]) * 10:+.2f} MB per 10 min; "
              f"serve alone {slope(xs, [m[1] for m in medians[args.warmup:]]) * 10:+.2f}")
        print(f"  view lag: {slope(xs, [float(r[2]) for r in steady]):+.1f} events per min")
        print(f"  POST p99: {slope(xs, [r[3] for r in steady]):+.2f} ms per min")
        print(f"  append-to-visible p99: {slope(xs, [r[4] for r in steady]):+.2f} ms per min")
        ingested: dict[str, float] = {}
        try:  # the scrape computes the view gauges: slow on a large store
            scrape = httpx.get(f"{server.url}/metrics", timeout=120,
                               headers={"Authorization": f"Bearer {secret}"}).text
        except httpx.HTTPError as exc:
            scrape = ""
            print(f"metrics scrape failed: {exc!r}")
        for line in scrape.splitlines():
            if line.startswith("dealflow_facts_ingested_total{"):
                channel = line.split('channel="', 1)[1].split('"', 1)[0]
                ingested[channel] = ingested.get(channel, 0.0) + float(line.split()[-1])
        seconds = 60.0 * args.minutes
        print("accepted by serve: " + ", ".join(
            f"{channel} {count:,.0f} ({count / seconds:,.0f}/s)"
            for channel, count in sorted(ingested.items())) + f" of {args.rate}/s offered")
        output = server.text()
        print(f"tracebacks in serve's output: {output.count('Traceback')}")
        for line in _raised(output):
            print(f"  {line}")
        if args.probe_memory:
            _growth(probes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
