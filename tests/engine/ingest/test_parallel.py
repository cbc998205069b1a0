"""Partitioned ingest with worker processes decides exactly what one process decides."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from engine.bootstrap import Engine, bootstrap
from engine.demo import GeneratedCounts, generate
from engine.domain import Deal
from engine.ingest.jsonl import iter_lines, read_batches
from engine.ingest.parallel import ParallelIngest, route
from engine.ingest.summary import IngestSummary
from engine.settings import Settings
from tests.engine.facts import opened, raw


def deal_states(engine: Engine) -> dict[str, tuple[str, str, int]]:
    states = {}
    for n in engine.app.recorder.select_notifications(start=1, limit=10**6):
        if n.topic == "dealflow.deal.opened":
            deal: Deal = engine.app.repository.get(n.originator_id)
            states[str(deal.id)] = (deal.stage, str(deal.amount), deal.version)
    return states


def test_route_keeps_a_subject_on_one_partition() -> None:
    line = b'{"subject": "D-42", "id": "x"}'
    assert {route(line, 4, n) for n in range(10)} == {route(line, 4, 0)}
    assert route(b"not json", 3, 7) == 1


def test_two_workers_decide_like_one(tmp_path: Path, store_url: str,
                                     make_engine: Callable[..., Engine]) -> None:
    counts = GeneratedCounts()
    path = tmp_path / "facts.jsonl"
    path.write_bytes(b"\n".join(generate(3, deals=250, counts=counts)) + b"\n")
    engine = make_engine(batch_size=200)  # the tables exist before the workers start
    summary = engine.parallel_ingest(2).run(iter_lines(path))
    assert (summary.accepted, summary.duplicates, summary.rejected_total) == (
        counts.good, counts.duplicates, counts.bad)

    single = bootstrap(Settings(db=f"sqlite:///{tmp_path / 'single.db'}"))
    try:
        expected = IngestSummary()
        for batch in read_batches(path, 200):
            expected.add(single.ingestor.ingest(batch).counts())
        assert summary.rejected == expected.rejected
        assert deal_states(make_engine()) == deal_states(single)
    finally:
        single.close()



@dataclass(frozen=True)
class _SecondWorkerSlow:
    """Opens each worker's engine; the second worker to start is 2 s slower (a slow spawn
    on a busy machine)."""

    settings: Settings
    token: Path

    def __call__(self) -> Engine:
        try:
            os.close(os.open(self.token, os.O_CREAT | os.O_EXCL))
        except FileExistsError:
            time.sleep(2)
        return bootstrap(self.settings, create_tables=False)


def test_a_worker_done_early_is_no_crash(tmp_path: Path) -> None:
    settings = Settings(db=f"sqlite:///{tmp_path / 'p.db'}")
    bootstrap(settings).close()  # the tables exist before the workers start
    facts = [(raw(opened(f"P-{n}")), f"t:{n}") for n in range(6)]
    summary = ParallelIngest(_SecondWorkerSlow(settings, tmp_path / "first"), batch_size=10,
                             workers=2).run(facts)
    assert summary.accepted == 6
