"""The generator is lazy: lines flow before the quarter is scripted, and memory stays small."""

from __future__ import annotations

from itertools import islice

import pytest

from engine.demo import GeneratedCounts, generate, generate_lines


def test_first_lines_arrive_before_most_deals_are_scripted() -> None:
    counts = GeneratedCounts()
    stream = generate(7, deals=20_000, counts=counts)
    first = list(islice(stream, 10))
    assert len(first) == 10
    assert counts.deals_started < 100
    list(islice(stream, 5_000))
    assert 0 < counts.deals_started < 2_000  # a few days into the quarter, not its whole


def test_counts_fill_as_lines_are_taken() -> None:
    counts = GeneratedCounts()
    taken = list(islice(generate(7, deals=2_000, counts=counts), 3_000))
    assert counts.lines == len(taken) == 3_000


def test_no_deals_gives_just_the_team_set_up() -> None:
    lines = [line for line in generate_lines(7, deals=0) if line.category == "good"]
    assert lines and all(b'"type":"rep.' in line.raw or b'"type":"forecast.submitted"'
                         in line.raw for line in lines)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"quarter": "2026-Q5"}, "quarter"),
        ({"quarter": "Q1-2026"}, "quarter"),
        ({"reps": 1}, "reps"),
        ({"deals": -1}, "deals"),
    ],
)
def test_bad_arguments_are_refused(arguments: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        next(generate(7, **arguments))  # type: ignore[arg-type]
