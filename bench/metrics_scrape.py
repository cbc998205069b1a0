"""What a /metrics scrape's view gauges cost on a big store: the reads they use now beside
the full reports "as of now" they were computed from before, same run, same store.

    python3 dev.py bench metrics_scrape --db sqlite:///big.db [--runs 3] [--more 2000]
    .venv/bin/python bench/metrics_scrape.py --db URL ...

The store must exist and its views be caught up (``dealflow rebuild --db URL`` once; e.g. a
store from ``dealflow demo --deals 10000 --quarters 4 --out f.jsonl`` and ``dealflow
ingest``). Each measurement runs in a fresh child process (so its peak RSS is its own):

1. ``reports``: the baseline, what a scrape computed before: the full ``pipeline``, ``sla``,
   ``forecast`` (this quarter and the next) and ``routing`` reports as of now, to JSON.
2. ``gauges first``: the gauges' reads (``projections.registry.gauge_builders``) the first
   time in a process: the SLA counts' full pass.
3. ``gauges refresh``: in that process, after ``--more`` new facts (whole deals timed near
   now, ingested and applied by the views) and the clock moved on: the next refresh, which
   evaluates only the deals that changed.

Printed: wall time and peak RSS of each (median of --runs), and the ratios against the
baseline. The extra facts go into the store (each run adds new deals): use a copy.
Never part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any


def _names() -> list[tuple[str, dict[str, Any]]]:
    now = datetime.now(UTC)
    quarter = (now.month - 1) // 3 + 1
    upcoming = f"{now.year + quarter // 4}-Q{quarter % 4 + 1}"
    return [("pipeline", {}), ("sla", {}), ("forecast", {}), ("forecast", {"period": upcoming}),
            ("routing", {})]


def _facts(prefix: str, count: int, now: datetime) -> list[bytes]:
    """Whole deals (opened, a first call, a stage change, half with a thank-you) timed in
    the last day, ``count`` facts or a few more."""
    out: list[bytes] = []
    n = 0
    while len(out) < count:
        subject, opened = f"{prefix}-{n}", now - timedelta(hours=20) + timedelta(seconds=n)
        data = [("deal.opened", opened, {"workflow": "standard", "account": f"a-{n}",
                                         "owner": f"rep-{n % 12:02d}", "amount": "1000.00",
                                         "currency": "CNY"}),
                ("activity.logged", opened + timedelta(minutes=1),
                 {"kind": "call", "purpose": "first_call"}),
                ("deal.stage_changed", opened + timedelta(minutes=2), {"to": "contact"})]
        if n % 2 == 0:
            data.append(("activity.logged", opened + timedelta(hours=2),
                         {"kind": "email", "purpose": "thank_you"}))
        for k, (kind, at, body) in enumerate(data):
            out.append(json.dumps({"id": f"{subject}-{k}", "type": kind, "source": "bench",
                                   "time": at.isoformat(), "subject": subject,
                                   "actor": "rep-01", "data": body}).encode())
        n += 1
    return out


def child(mode: str, db: str, more: int) -> None:
    """One measurement in this process; prints a JSON line."""
    from engine.bootstrap import bootstrap
    from engine.settings import Settings
    from projections.registry import REPORTS, gauge_builders
    from projections.report import ReportParams

    engine = bootstrap(Settings(db=db))
    runner = engine.runner()
    runner.catch_up()
    builders = REPORTS if mode == "reports" else gauge_builders()

    def scrape() -> tuple[float, int, dict[str, float]]:
        started = time.perf_counter()
        params = ReportParams(as_of=datetime.now(UTC))
        size, each = 0, {}
        with runner.engine.connect() as conn:
            for name, options in _names():
                view_name, build = builders[name]
                at = time.perf_counter()
                size += len(json.dumps(build(conn, runner.live[view_name], params,
                                             **options).to_json(), default=str))
                key = name if not options else f"{name} next"
                each[key] = round(time.perf_counter() - at, 3)
        return time.perf_counter() - started, size, each

    seconds, size, each = scrape()
    result: dict[str, Any] = {"seconds": seconds, "json_bytes": size, "each": each,
                              "peak_rss_mb": resource.getrusage(
                                  resource.RUSAGE_SELF).ru_maxrss / 1024}
    if mode == "gauges":
        facts = _facts(f"scrape-{os.getpid()}-{time.time_ns()}", more, datetime.now(UTC))
        from engine.ingest.batch import RawInput

        for start in range(0, len(facts), 1000):
            engine.ingestor.ingest([RawInput(f, f"bench:{start + i}")
                                    for i, f in enumerate(facts[start:start + 1000])])
        runner.catch_up()
        time.sleep(1.0)
        again, _, each = scrape()
        result["refresh_seconds"] = again
        result["refresh_each"] = each
        result["added_facts"] = len(facts)
    print(json.dumps(result))


def _run(mode: str, args: argparse.Namespace) -> dict[str, Any]:
    out = subprocess.run([sys.executable, __file__, "--child", mode, "--db", args.db,
                          "--more", str(args.more)], check=True, capture_output=True,
                         text=True)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", required=True, help="store URL (views caught up)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--more", type=int, default=2000,
                        help="facts added before the incremental refresh")
    parser.add_argument("--child", choices=["reports", "gauges"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.db, args.more)
        return 0
    rows: dict[str, list[dict[str, Any]]] = {"reports": [], "gauges": []}
    for run in range(args.runs):
        for mode in ("reports", "gauges"):
            found = _run(mode, args)
            rows[mode].append(found)
            print(f"run {run + 1} {mode:>7}: {json.dumps(found)} "
                  f"load {os.getloadavg()[0]:.1f}", flush=True)

    def med(mode: str, key: str) -> float:
        return statistics.median(float(r[key]) for r in rows[mode])

    base_s, base_mb = med("reports", "seconds"), med("reports", "peak_rss_mb")
    first_s, first_mb = med("gauges", "seconds"), med("gauges", "peak_rss_mb")
    refresh_s = med("gauges", "refresh_seconds")
    print(f"baseline, full reports as of now: {base_s:.2f} s, peak RSS {base_mb:.0f} MB, "
          f"JSON {med('reports', 'json_bytes') / 1e6:.1f} MB")
    print(f"gauges, first read (SLA full pass): {first_s:.2f} s = {first_s / base_s:.2f}x, "
          f"peak RSS {first_mb:.0f} MB = {first_mb / base_mb:.2f}x, "
          f"JSON {med('gauges', 'json_bytes') / 1e3:.1f} kB")
    print(f"gauges, refresh after {args.more} new facts: {refresh_s:.3f} s = "
          f"{refresh_s / base_s:.3f}x the baseline")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
