"""Read a JSONL file (or any byte stream, such as standard input) as inputs, streaming
(memory stays flat)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import BinaryIO

from engine.ingest.batch import RawInput

__all__ = ["iter_lines", "read_batches"]


def iter_lines(
    source: Path | BinaryIO, *, on_bytes: Callable[[int], None] | None = None,
    name: str | None = None,
) -> Iterator[tuple[bytes, str]]:
    """Yield (line, ``name:line``) for every non-blank line of a file or an open stream.

    ``name`` defaults to the file's name (for a stream: ``stdin``). Blank lines separate
    nothing and carry no fact, so they are skipped; every other line is an input (a line
    that is not JSON is rejected downstream, never dropped).
    """
    opened: AbstractContextManager[BinaryIO]
    if isinstance(source, Path):
        label, opened = name or source.name, source.open("rb")
    else:  # a stream the caller owns: read, not closed
        label, opened = name or "stdin", nullcontext(source)
    with opened as handle:
        for number, line in enumerate(handle, start=1):
            if on_bytes is not None:
                on_bytes(len(line))
            body = line.rstrip(b"\r\n")
            if body.strip():
                yield body, f"{label}:{number}"


def read_batches(
    source: Path | BinaryIO, batch_size: int, *,
    on_bytes: Callable[[int], None] | None = None, name: str | None = None,
) -> Iterator[list[RawInput]]:
    """Yield lists of at most ``batch_size`` inputs (see :func:`iter_lines`)."""
    batch: list[RawInput] = []
    for body, origin in iter_lines(source, on_bytes=on_bytes, name=name):
        batch.append(RawInput(body, origin))
        if len(batch) >= batch_size:
            yield batch
            batch = []
    if batch:
        yield batch
