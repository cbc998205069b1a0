"""Read a JSONL file as batches of raw inputs, streaming (memory stays flat)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from engine.ingest.batch import RawInput

__all__ = ["read_batches"]


def read_batches(
    path: Path, batch_size: int, *, on_bytes: Callable[[int], None] | None = None
) -> Iterator[list[RawInput]]:
    """Yield lists of at most ``batch_size`` inputs; ``origin`` is ``file:line``.

    Blank lines separate nothing and carry no fact, so they are skipped; every other line
    is an input (a line that is not JSON is rejected downstream, never dropped).
    """
    batch: list[RawInput] = []
    name = path.name
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            if on_bytes is not None:
                on_bytes(len(line))
            body = line.rstrip(b"\r\n")
            if not body.strip():
                continue
            batch.append(RawInput(body, f"{name}:{number}"))
            if len(batch) >= batch_size:
                yield batch
                batch = []
    if batch:
        yield batch
