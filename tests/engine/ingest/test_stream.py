"""A stream of batches decides exactly what batch-by-batch ingest decides, in one thread,
and stops at a failing batch before reading the next."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from engine.bootstrap import Engine
from engine.contract.envelope import parse_fact
from engine.demo import generate
from engine.handlers import handle
from engine.ingest import batch
from engine.ingest.batch import RawInput
from engine.ingest.jsonl import read_batches
from engine.ingest.stream import ingest_stream
from engine.translate import to_command
from tests.engine.facts import opened, raw
from tests.engine.ingest.test_parallel import log_shape, one_process


def test_a_stream_decides_like_batch_by_batch(tmp_path: Path, store_url: str,
                                              make_engine: Callable[..., Engine]) -> None:
    path = tmp_path / "facts.jsonl"
    path.write_bytes(b"\n".join(generate(5, deals=150)) + b"\n")
    engine = make_engine()
    results = list(ingest_stream(engine.ingestor, read_batches(path, 97)))
    for single, expected in one_process(tmp_path, path, 97):
        assert sum(r.accepted for r in results) == expected.accepted
        assert sum(r.duplicates for r in results) == expected.duplicates
        assert log_shape(engine) == log_shape(single)
        assert dict(sum((r.rejected for r in results), Counter())) == expected.rejected
        origins = [o.origin for r in results for o in r.outcomes]
        assert origins == [origin for batch in read_batches(path, 97) for origin in
                           (item.origin for item in batch)]


def test_a_failing_batch_stops_the_stream_before_the_next_is_decided(
        engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    batches = [[RawInput(raw(opened(f"S-{b}-{n}")), f"s:{b}:{n}") for n in range(3)]
               for b in range(3)]
    real = engine.ingestor.ingest
    calls: list[str] = []

    def second_fails(inputs: list[RawInput], **kwargs: object) -> object:
        calls.append(inputs[0].origin)
        if len(calls) == 2:
            raise OSError("store unreachable")
        return real(inputs, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(engine.ingestor, "ingest", second_fails)
    read: list[int] = []

    def reading() -> Iterator[list[RawInput]]:
        for number, each in enumerate(batches):
            read.append(number)
            yield each

    stream = ingest_stream(engine.ingestor, reading())
    assert next(stream).accepted == 3
    with pytest.raises(OSError):
        next(stream)
    assert calls == ["s:0:0", "s:1:0"]
    assert read == [0, 1]  # the third batch was not even read
    monkeypatch.undo()
    stored = engine.app.recorder.select_notifications(start=1, limit=100)
    assert len([n for n in stored if n.topic == "dealflow.deal.opened"]) == 3


def test_the_collector_stays_off_while_a_stream_runs(engine: Engine) -> None:
    import gc

    batches = [[RawInput(raw(opened(f"G-{b}-{n}")), f"g:{b}:{n}") for n in range(3)]
               for b in range(3)]
    assert gc.isenabled()
    seen = [gc.isenabled() for _ in ingest_stream(engine.ingestor, batches)]
    assert seen == [False] * 3  # not turned on again after each batch's ingest
    assert gc.isenabled()


def test_a_stream_parses_translates_and_decides_in_the_calling_thread(
        tmp_path: Path, engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "facts.jsonl"
    path.write_bytes(b"\n".join(generate(5, deals=40)) + b"\n")
    threads: Counter[tuple[str, str]] = Counter()

    def counted(name: str, call: Callable[..., Any]) -> Callable[..., Any]:
        def run(*args: Any, **kwargs: Any) -> Any:
            threads[(name, threading.current_thread().name)] += 1
            return call(*args, **kwargs)
        return run

    monkeypatch.setattr(batch, "parse_fact", counted("parse", parse_fact))
    monkeypatch.setattr(batch, "to_command", counted("translate", to_command))
    monkeypatch.setattr(batch, "handle", counted("decide", handle))
    results = list(ingest_stream(engine.ingestor, read_batches(path, 50)))
    assert len(results) > 2
    assert set(threads) == {("parse", "MainThread"), ("translate", "MainThread"),
                            ("decide", "MainThread")}
    # Every fact decided was translated once, before the batch was decided (duplicates are
    # not decided), and none parsed twice.
    assert threads[("translate", "MainThread")] >= threads[("decide", "MainThread")]
    assert threads[("parse", "MainThread")] == sum(len(r.outcomes) for r in results)
