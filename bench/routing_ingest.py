"""Ingest of a demo file whose deals are mostly routed, beside the same file with the owners
the routed run chose written in, same run.

    python3 dev.py bench routing_ingest [--deals 1500] [--runs 3]
    .venv/bin/python bench/routing_ingest.py [--deals 1500] [--runs 3]

1. Writes the demo quarter (``dealflow demo``'s generator: rep profiles, four in five
   deals opened without ``owner``) as JSONL: the *routed* file.
2. Ingests it once and reads each deal's ``dealflow.deal.routed`` owner; writes the *owned*
   file: the same lines in the same order, each ``deal.opened`` the engine routed now naming
   the owner it chose (duplicates re-sent alike; deals left unassigned stay without owner).
3. Runs ``dealflow ingest FILE`` (a real process, fresh SQLite store each time) on both
   files, with ``--workers 1`` and with the default, alternating, ``--runs`` times; prints the
   medians and the ratio of routed to owned throughput (target: at least 0.8x in both), the
   outcome counts (equal) and the machine's load average.

Never part of the test suite.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

from engine.bootstrap import bootstrap
from engine.demo import write_jsonl
from engine.domain import Deal
from engine.settings import Settings

DEALFLOW = str(Path(sys.executable).with_name("dealflow"))


def routed_owners(path: Path, db: str) -> dict[str, str | None]:
    """Ingest ``path`` with ``dealflow ingest --workers 1``; each routed deal's owner."""
    run(path, db, workers=1)
    engine = bootstrap(Settings(db=db), create_tables=False)
    try:
        app = engine.app
        owners: dict[str, str | None] = {}
        subjects: dict[object, str] = {}
        for n in app.recorder.select_notifications(start=1, limit=10_000_000,
                                                   topics=[Deal.Opened.TOPIC]):
            opening = app.mapper.to_domain_event(n)
            assert isinstance(opening, Deal.Opened) and opening.subject is not None
            subjects[n.originator_id] = opening.subject
        for n in app.recorder.select_notifications(start=1, limit=10_000_000,
                                                   topics=[Deal.Routed.TOPIC]):
            decision = app.mapper.to_domain_event(n)
            assert isinstance(decision, Deal.Routed)
            owners[subjects[n.originator_id]] = decision.owner
        return owners
    finally:
        engine.close()


def write_owned(routed: Path, owned: Path, owners: dict[str, str | None]) -> int:
    """The routed file with the chosen owners written in; returns the openings changed."""
    changed = 0
    with routed.open("rb") as src, owned.open("wb") as out:
        for line in src:
            try:
                obj = orjson.loads(line)
            except orjson.JSONDecodeError:
                out.write(line)
                continue
            data = obj.get("data") if isinstance(obj, dict) else None
            owner = owners.get(obj.get("subject")) if isinstance(data, dict) else None
            if (obj.get("type") == "deal.opened" and owner is not None
                    and isinstance(data, dict) and data.get("owner") is None):
                data["owner"] = owner
                out.write(orjson.dumps(obj) + b"\n")
                changed += 1
            else:
                out.write(line)
    return changed


def run(path: Path, db: str, workers: int | None) -> tuple[float, str]:
    """Seconds of one ``dealflow ingest`` process, and its summary's last lines."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEALFLOW_")}
    args = [DEALFLOW, "ingest", str(path), "--db", db, "-q"]
    if workers is not None:
        args += ["--workers", str(workers)]
    started = time.perf_counter()
    done = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"dealflow ingest failed:\n{done.stdout}\n{done.stderr}")
    summary = [line for line in done.stdout.splitlines() if "accepted" in line
               or "duplicates" in line or "rejected" in line]
    return seconds, " ".join(" ".join(s.split()) for s in summary[:3])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--deals", type=int, default=1500)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="routing-bench-") as tmp:
        folder = Path(tmp)
        routed = folder / "routed.jsonl"
        counts = write_jsonl(routed, args.seed, args.deals)
        owners = routed_owners(routed, f"sqlite:///{folder}/first.db")
        owned = folder / "owned.jsonl"
        changed = write_owned(routed, owned, owners)
        assigned = sum(1 for o in owners.values() if o is not None)
        print(f"{counts.lines:,} lines ({routed.stat().st_size / 2**20:.1f} MiB), "
              f"{len(owners):,} deals routed ({assigned:,} assigned, "
              f"{len(owners) - assigned:,} unassigned); {changed:,} openings rewritten "
              "with their owner")
        times: dict[tuple[str, str], list[float]] = {}
        outcomes: dict[str, set[str]] = {"routed": set(), "owned": set()}
        n = 0
        for _ in range(args.runs):
            for mode, workers in (("--workers 1", 1), ("default workers", None)):
                for name, path in ((("routed", routed), ("owned", owned)) if n % 2 == 0
                                   else (("owned", owned), ("routed", routed))):
                    n += 1
                    seconds, summary = run(path, f"sqlite:///{folder}/run-{n}.db", workers)
                    times.setdefault((mode, name), []).append(seconds)
                    outcomes[name].add(summary)
                    (folder / f"run-{n}.db").unlink(missing_ok=True)
        lines = counts.lines
        for mode in ("--workers 1", "default workers"):
            r = statistics.median(times[(mode, "routed")])
            o = statistics.median(times[(mode, "owned")])
            print(f"{mode:16} routed {r:6.2f} s ({lines / r:,.0f} lines/s)   owned {o:6.2f} s "
                  f"({lines / o:,.0f} lines/s)   routed/owned throughput {o / r:.2f}x "
                  "(target >= 0.8x)")
        same = outcomes["routed"] == outcomes["owned"] and len(outcomes["routed"]) == 1
        print(f"outcomes equal in every run: {same} ({next(iter(outcomes['routed']))})")
        print(f"medians of {args.runs}; each time is a whole `dealflow ingest` process "
              f"(start-up included); load average {os.getloadavg()[0]:.1f} "
              f"(1 min) on {os.cpu_count()} cores")
    return 0


if __name__ == "__main__":
    sys.exit(main())
