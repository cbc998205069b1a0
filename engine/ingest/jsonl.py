"""Read a JSONL file as inputs, streaming (memory stays flat)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from engine.ingest.batch import RawInput

__all__ = ["iter_lines", "read_batches"]


def iter_lines(
    path: Path, *, on_bytes: Callable[[int], None] | None = None
) -> Iterator[tuple[bytes, str]]:
    """Yield (line, ``file:line``) for every non-blank line.

    Blank lines separate nothing and carry no fact, so they are skipped; every other line
    is an input (a line that is not JSON is rejected downstream, never dropped).
    """
    name = path.name
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            if on_bytes is not None:
                on_bytes(len(line))
            body = line.rstrip(b"\r\n")
            if body.strip():
                yield body, f"{name}:{number}"


def read_batches(
    path: Path, batch_size: int, *, on_bytes: Callable[[int], None] | None = None
) -> Iterator[list[RawInput]]:
    """Yield lists of at most ``batch_size`` inputs (see :func:`iter_lines`)."""
    batch: list[RawInput] = []
    for body, origin in iter_lines(path, on_bytes=on_bytes):
        batch.append(RawInput(body, origin))
        if len(batch) >= batch_size:
            yield batch
            batch = []
    if batch:
        yield batch
