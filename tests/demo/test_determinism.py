"""Same seed, same bytes; another seed, other bytes; the public entry points agree."""

from __future__ import annotations

import hashlib
from pathlib import Path

from engine.demo import GeneratedCounts, generate, generate_lines, write_jsonl


def _digest(seed: int, deals: int) -> str:
    digest = hashlib.sha256()
    for raw in generate(seed, deals=deals):
        digest.update(raw + b"\n")
    return digest.hexdigest()


def test_same_seed_gives_identical_bytes() -> None:
    assert _digest(7, 800) == _digest(7, 800)


def test_other_seed_gives_other_bytes() -> None:
    assert _digest(7, 800) != _digest(8, 800)


def test_other_quarter_gives_other_ids_and_times() -> None:
    first = next(generate(7, deals=10, quarter="2026-Q2"))
    assert b'"2026-04-01T' in first
    assert b"2026q2" in first


def test_generate_is_the_raw_of_generate_lines() -> None:
    assert list(generate(3, deals=200)) == [line.raw for line in generate_lines(3, deals=200)]


def test_lines_carry_no_newline() -> None:
    assert all(b"\n" not in raw and b"\r" not in raw for raw in generate(5, deals=300))


def test_write_jsonl_writes_the_same_lines_and_returns_final_counts(tmp_path: Path) -> None:
    path = tmp_path / "quarter.jsonl"
    counts = write_jsonl(path, 11, 300)
    expected = GeneratedCounts()
    lines = list(generate(11, deals=300, counts=expected))
    assert path.read_bytes() == b"".join(raw + b"\n" for raw in lines)
    assert counts == expected
    assert counts.lines == len(lines)
