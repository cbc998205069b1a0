"""Parallel ingest (helpers parse, one writer decides in line order) decides exactly what
one process decides: the same log, event for event, and the same routed owners."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from engine.bootstrap import Engine, bootstrap
from engine.demo import GeneratedCounts, generate
from engine.errors import DealflowError
from engine.ingest.jsonl import iter_lines, read_batches
from engine.ingest.parallel import ParallelIngest, default_workers
from engine.ingest.summary import IngestSummary
from engine.settings import Settings
from tests.engine.facts import STANDARD_PATH, fact, opened, raw
from tests.engine.routing.helpers import owner_of, profile, unowned


def log_shape(engine: Engine) -> list[tuple[str, int, str]]:
    """Every stored event in log order: (aggregate, version, type); times left out."""
    return [(str(n.originator_id), n.originator_version, n.topic)
            for n in engine.app.recorder.select_notifications(start=1, limit=10**6)]


def one_process(tmp_path: Path, path: Path, batch_size: int) -> Iterator[tuple[
        Engine, IngestSummary]]:
    single = bootstrap(Settings(db=f"sqlite:///{tmp_path / 'single.db'}"))
    summary = IngestSummary()
    for batch in read_batches(path, batch_size):
        summary.add(single.ingestor.ingest(batch).counts())
    try:
        yield single, summary
    finally:
        single.close()


@pytest.mark.parametrize(("size", "cores", "load", "expected"), [
    (1_000, 8, 0.0, 1),            # a small file: no helper start-up
    (50 * 2**20, 2, 0.0, 1),       # 2 idle cores: the writer keeps both busy itself
    (50 * 2**20, 2, 4.8, 1),
    (50 * 2**20, 4, 0.5, 2),       # a third idle core: one helper
    (50 * 2**20, 4, 2.5, 1),
    (50 * 2**20, 16, 0.0, 4),      # at most three helpers
    (50 * 2**20, 1, 0.0, 1),
])
def test_default_workers(size: int, cores: int, load: float, expected: int) -> None:
    assert default_workers(size, cores, load) == expected


def test_two_workers_decide_like_one(tmp_path: Path, store_url: str,
                                     make_engine: Callable[..., Engine]) -> None:
    counts = GeneratedCounts()
    path = tmp_path / "facts.jsonl"
    path.write_bytes(b"\n".join(generate(3, deals=250, counts=counts)) + b"\n")
    engine = make_engine(batch_size=200)
    summary = engine.parallel_ingest(3).run(iter_lines(path))
    assert (summary.accepted, summary.duplicates, summary.rejected_total) == (
        counts.good, counts.duplicates, counts.bad)
    for single, expected in one_process(tmp_path, path, 200):
        assert summary.rejected == expected.rejected
        assert log_shape(engine) == log_shape(single)
        rejections = [(r.origin, r.reason, r.field, r.message)
                      for r in engine.app.store.select_rejections(limit=10**6)]
        assert rejections == [(r.origin, r.reason, r.field, r.message)
                              for r in single.app.store.select_rejections(limit=10**6)]


def _routing_facts(seed: int) -> list[dict[str, Any]]:
    """Profiles, deals opened without owner, and facts that change open loads and profiles
    (won, lost, reopened, reassigned, profile changes) interleaved."""
    rng = random.Random(seed)
    reps = [f"rep-{n}" for n in range(5)]
    facts: list[dict[str, Any]] = [profile(rep, capacity=rng.choice([None, 3, 6]))
                                   for rep in reps]
    open_deals: list[str] = []
    for n in range(120):
        subject = f"R-{n}"
        facts.append(unowned(subject))
        open_deals.append(subject)
        roll = rng.random()
        if roll < 0.15 and open_deals:
            facts.append(fact("deal.lost", open_deals.pop(0), {"reason": "price"}))
        elif roll < 0.25 and open_deals:
            won = open_deals.pop(0)
            facts.extend(fact(t, won, d) for t, d in STANDARD_PATH)
        elif roll < 0.32:
            facts.append(profile(rng.choice(reps), active=rng.random() < 0.7,
                                 capacity=rng.choice([None, 2, 5])))
        elif roll < 0.38 and open_deals:
            facts.append(fact("deal.reassigned", rng.choice(open_deals),
                              {"owner": rng.choice(reps)}))
    return facts


@pytest.mark.parametrize("seed", [1, 2])
def test_two_workers_route_like_one(tmp_path: Path, store_url: str, seed: int,
                                    make_engine: Callable[..., Engine]) -> None:
    facts = _routing_facts(seed)
    path = tmp_path / "routing.jsonl"
    path.write_bytes(b"\n".join(raw(f) for f in facts) + b"\n")
    engine = make_engine(batch_size=7)  # many batches, several helpers' worth
    engine.parallel_ingest(3).run(iter_lines(path))
    subjects = [f["subject"] for f in facts if f["type"] == "deal.opened"]
    for single, _ in one_process(tmp_path, path, 7):
        owners = [owner_of(single, s) for s in subjects]
        assert len({o for o in owners if o is not None}) > 1  # routing did choose
        assert [owner_of(engine, s) for s in subjects] == owners
        assert log_shape(engine) == log_shape(single)


def test_a_failing_helper_stops_the_ingest(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    engine = bootstrap(Settings(db=f"sqlite:///{tmp_path / 'p.db'}"))
    try:
        monkeypatch.setattr(engine.ingestor, "limits", object())  # unusable in the helper
        with pytest.raises(DealflowError, match="helper"):
            ParallelIngest(engine.ingestor, batch_size=2, workers=2).run(
                [(raw(opened(f"P-{n}")), f"t:{n}") for n in range(6)])
    finally:
        engine.close()
