"""The naive write path: a minimal eventsourcing application, one save per fact.

    python3 dev.py bench naive_baseline FILE [--db sqlite:///naive.db | postgresql://...]
                                             [--limit 6000] [--json]

No dealflow code: each JSONL line is decoded with the standard ``json`` module (amounts as
``Decimal``), its aggregate (one per ``subject``) is loaded from the store, one event carrying
the fact is triggered on it, and the aggregate is saved: one transaction per fact, as an
application written straight from eventsourcing's tutorial would do. Lines that are not JSON
objects, or lack ``subject``/``type``, are counted and skipped. Dedupe, validation, workflow
guards and rejections are not done: this is the floor of "one save per fact", the baseline
that ``bench/ingest.py`` divides dealflow's whole command by.

Prints facts/s (or, with --json, one JSON object) over the first --limit lines.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate, event
from eventsourcing.utils import get_topic

__all__ = ["Subject", "SubjectLog", "env_for", "run"]


class Subject(Aggregate):
    """Whatever a fact is about (a deal, a rep): a list of the facts it received."""

    @staticmethod
    def create_id(name: str) -> UUID:
        """One aggregate per subject name."""
        return uuid5(NAMESPACE_URL, name)

    @event("Started")
    def __init__(self, name: str) -> None:
        self.name = name
        self.facts = 0

    @event("FactRecorded")
    def record(self, fact_id: str, fact_type: str, time: str, data: dict[str, Any]) -> None:
        """One more fact about this subject."""
        self.facts += 1


class SubjectLog(Application[UUID]):
    """The application: record a fact on its subject, one save per fact."""

    def record(self, fact: dict[str, Any]) -> None:
        """Load (or start) the subject's aggregate, trigger the event, save."""
        subject_id = uuid5(NAMESPACE_URL, str(fact["subject"]))
        try:
            subject: Subject = self.repository.get(subject_id)
        except AggregateNotFoundError:
            subject = Subject(name=str(fact["subject"]))
        subject.record(str(fact.get("id")), str(fact["type"]), str(fact.get("time")),
                       fact.get("data") or {})
        self.save(subject)


def env_for(url: str) -> dict[str, str]:
    """eventsourcing's environment for ``sqlite:///PATH`` or ``postgresql://...``."""
    if url.startswith("sqlite:///"):
        return {"PERSISTENCE_MODULE": "eventsourcing.sqlite",
                "SQLITE_DBNAME": url[len("sqlite:///"):], "SQLITE_LOCK_TIMEOUT": "30"}
    from urllib.parse import unquote, urlsplit

    parts = urlsplit(url)
    return {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": parts.path.strip("/"),
        "POSTGRES_HOST": parts.hostname or "127.0.0.1",
        "POSTGRES_PORT": str(parts.port or 5432),
        "POSTGRES_USER": unquote(parts.username or "postgres"),
        "POSTGRES_PASSWORD": unquote(parts.password or ""),
    }


def run(path: Path, url: str, limit: int | None) -> tuple[int, int, float]:
    """Record the first ``limit`` lines of ``path``; (recorded, skipped, seconds)."""
    app = SubjectLog(env=env_for(url))
    recorded = skipped = 0
    started = time.perf_counter()
    with path.open("rb") as lines:
        for number, line in enumerate(lines):
            if limit is not None and number >= limit:
                break
            try:
                fact = json.loads(line, parse_float=Decimal)
            except ValueError:
                skipped += 1
                continue
            if not isinstance(fact, dict) or "subject" not in fact or "type" not in fact:
                skipped += 1
                continue
            try:
                app.record(fact)
            except Exception:  # e.g. data the stock transcoder cannot encode
                skipped += 1
                continue
            recorded += 1
    elapsed = time.perf_counter() - started
    app.close()
    return recorded, skipped, elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("file", type=Path, help="a JSONL file of facts")
    parser.add_argument("--db", default="sqlite:///naive.db", help="a FRESH store URL")
    parser.add_argument("--limit", type=int, default=6_000, help="lines to record (0: all)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    recorded, skipped, elapsed = run(args.file, args.db, args.limit or None)
    lines = recorded + skipped
    rate = lines / elapsed if elapsed > 0 else 0.0
    if args.json:
        print(json.dumps({"lines": lines, "recorded": recorded, "skipped": skipped,
                          "seconds": elapsed, "rate": rate, "topic": get_topic(Subject)}))
    else:
        print(f"naive: {lines:,} lines ({recorded:,} recorded, {skipped:,} skipped) in "
              f"{elapsed:.1f} s = {rate:,.0f} lines/s, one save per fact")
    return 0


if __name__ == "__main__":
    sys.exit(main())
