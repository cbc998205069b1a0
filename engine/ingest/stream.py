"""Ingesting a stream of batches in one process: the next batch is parsed while the current
one is decided and stored.

Deciding a batch needs the batches before it stored (the aggregates, the dedupe records and
the routing book it reads), but parsing and validating the next batch needs nothing: it
runs in this thread while a second thread decides and stores the current batch. SQLite
and psycopg release the interpreter lock while the database works (the statements, the
commit's fsync), so the parse of batch n+1 overlaps the store work of batch n on a second
core. Batches are still decided one at a time, in order, each in one transaction, exactly
as ``Ingestor.ingest`` decides them alone; an error in a batch is raised before the next
batch is decided.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor

from engine.contract.envelope import Fact
from engine.ingest.batch import BatchResult, Ingestor, RawInput
from engine.ingest.parsing import parse_chunk

__all__ = ["ingest_stream"]


def ingest_stream(
    ingestor: Ingestor, batches: Iterable[Sequence[RawInput]]
) -> Iterator[BatchResult]:
    """Decide and store ``batches`` in order, yielding each batch's result."""
    inputs = iter(batches)
    current = next(inputs, None)
    if current is None:
        return
    facts: list[Fact | None] | None = _parse(ingestor, current)
    with ThreadPoolExecutor(1, thread_name_prefix="dealflow-ingest") as decider:
        while current is not None:
            stored = decider.submit(ingestor.ingest, current, parsed=facts)
            following = next(inputs, None)
            following_facts = _parse(ingestor, following) if following is not None else None
            yield stored.result()
            current, facts = following, following_facts


def _parse(ingestor: Ingestor, batch: Sequence[RawInput]) -> list[Fact | None]:
    return parse_chunk([item.raw for item in batch], ingestor.limits)
