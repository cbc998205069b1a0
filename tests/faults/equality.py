"""What "the store equals a clean ingest of the same facts" compares: the accepted
(source, id, digest) set, the rejections' (source, id, reason) set, and each deal's and
rep's event sequence (version, type and content, the recording timestamp aside). The
routing book is left out: it records loads across deals in arrival order, which faults
and retries may change (facts carry owners, so no routing decision depends on it)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import text

from engine.bootstrap import bootstrap
from engine.ingest.batch import RawInput
from engine.settings import Settings

__all__ = ["StoreContent", "clean_ingest", "content_of"]


@dataclass(frozen=True)
class StoreContent:
    """The parts of a store a fault must not change."""

    accepted: frozenset[tuple[str, str, str]]
    rejected: frozenset[tuple[str | None, str | None, str]]
    events: dict[str, list[tuple[int, str, Any]]]


def content_of(url: str) -> StoreContent:
    """Read the store at ``url``."""
    engine = bootstrap(Settings(db=url), create_tables=False)
    try:
        with engine.sql.connect() as conn:
            accepted = frozenset(
                (r[0], r[1], r[2]) for r in
                conn.execute(text("SELECT source, fact_id, digest FROM dealflow_facts")))
            rejected = frozenset(
                (r[0], r[1], r[2]) for r in
                conn.execute(text("SELECT source, fact_id, reason FROM dealflow_rejections")))
        events: dict[str, list[tuple[int, str, Any]]] = {}
        head = engine.app.recorder.max_notification_id() or 0
        start = 1
        while start <= head:
            page = engine.app.recorder.select_notifications(start=start, limit=1000)
            if not page:
                break
            for n in page:
                if n.topic.startswith("dealflow.routing_book"):
                    continue
                state = orjson.loads(n.state)
                state.pop("timestamp", None)
                events.setdefault(str(n.originator_id), []).append(
                    (n.originator_version, n.topic, state))
            start = page[-1].id + 1
        return StoreContent(accepted, rejected, events)
    finally:
        engine.close()


def clean_ingest(url: str, facts: Sequence[bytes]) -> StoreContent:
    """Ingest ``facts`` in order, in one process with no fault, and read the result."""
    engine = bootstrap(Settings(db=url))
    try:
        for start in range(0, len(facts), 500):
            chunk = facts[start:start + 500]
            engine.ingestor.ingest([RawInput(raw, f"clean:{start + i}")
                                    for i, raw in enumerate(chunk)])
    finally:
        engine.close()
    return content_of(url)
