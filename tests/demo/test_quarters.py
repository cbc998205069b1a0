"""Several quarters of one org: the first quarter's lines are exactly those of a one-quarter
run, in the same order; the later quarters add lines timed in their own quarter or after."""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from engine.cli.main import app
from engine.demo import DemoLine, GeneratedCounts, generate, generate_lines
from tests.demo.reference import ContractModel, instant

SHANGHAI = timezone(timedelta(hours=8))
QUARTER_STARTS = {"2026q1": datetime(2026, 1, 1, tzinfo=SHANGHAI),
                  "2026q2": datetime(2026, 4, 1, tzinfo=SHANGHAI),
                  "2026q3": datetime(2026, 7, 1, tzinfo=SHANGHAI)}
FIRST_END = datetime(2026, 3, 31, 23, 59, 59, 999999, tzinfo=SHANGHAI)
TAG = re.compile(r"-(\d{4}q[1-4])-")
DEALS = 600

# sha256 of generate(7, deals=300) (3,910 lines): a one-quarter run must keep producing these
# bytes. Change it only with a deliberate change to the generator (last: the contract 1.1
# forecast facts, close-date moves, overrides and the reps' forecast calls).
ONE_QUARTER_DIGEST = "1100cdbbb57f0bf0f29b84d1bc0515ccee5e889fd563bea850151da1b3de9ebd"


def _digest(lines: list[bytes]) -> str:
    return hashlib.sha256(b"".join(raw + b"\n" for raw in lines)).hexdigest()


def _split(one: list[DemoLine], many: list[DemoLine]) -> list[DemoLine]:
    """The lines of ``many`` left over once ``one`` is matched in order as a subsequence."""
    position, rest = 0, []
    for line in many:
        if position < len(one) and line.raw == one[position].raw:
            position += 1
        else:
            rest.append(line)
    assert position == len(one), f"only {position:,} of {len(one):,} first-quarter lines"
    return rest


@pytest.fixture(scope="module")
def runs() -> tuple[list[DemoLine], list[DemoLine]]:
    return list(generate_lines(7, deals=DEALS)), list(generate_lines(7, deals=DEALS, quarters=3))


def _facts(lines: list[DemoLine]) -> list[dict[str, Any]]:
    return [json.loads(line.raw) for line in lines if line.category != "bad"]


def test_one_quarter_is_what_it_was_before_quarters() -> None:
    lines = list(generate(7, deals=300))
    assert len(lines) == 3_754
    assert _digest(lines) == ONE_QUARTER_DIGEST
    assert list(generate(7, deals=300, quarters=1)) == lines


def test_the_first_quarter_comes_unchanged_and_in_order_among_three(
        runs: tuple[list[DemoLine], list[DemoLine]]) -> None:
    one, three = runs
    rest = _split(one, three)
    assert len(rest) == len(three) - len(one)
    tags = Counter(TAG.search(o["id"])[1] for o in _facts(rest))  # type: ignore[index]
    assert set(tags) == {"2026q2", "2026q3"}


def test_three_quarters_are_about_three_times_one(
        runs: tuple[list[DemoLine], list[DemoLine]]) -> None:
    one, three = runs
    assert 2.7 * len(one) < len(three) < 3.3 * len(one)
    opened = [line for line in three
              if line.category == "good" and b'"type":"deal.opened"' in line.raw]
    assert len(opened) == 3 * DEALS


def test_later_quarters_never_time_a_fact_before_their_own_start(
        runs: tuple[list[DemoLine], list[DemoLine]]) -> None:
    one, three = runs
    later = _facts(_split(one, three))
    for obj in later:
        tag = TAG.search(obj["id"])[1]  # type: ignore[index]
        assert instant(obj) >= QUARTER_STARTS[tag], obj
        assert instant(obj) > FIRST_END, obj


def test_same_reps_teams_and_accounts_with_quotas_per_quarter(
        runs: tuple[list[DemoLine], list[DemoLine]]) -> None:
    facts = _facts(runs[1])
    quotas = [o for o in facts if o["type"] == "rep.quota_set"]
    reps_by_quarter: dict[str, set[tuple[str, str]]] = {}
    for obj in quotas:
        quarter = TAG.search(obj["id"])[1]  # type: ignore[index]
        reps_by_quarter.setdefault(quarter, set()).add((obj["subject"], obj["data"]["team"]))
    assert set(reps_by_quarter) == set(QUARTER_STARTS)
    assert len({frozenset(reps) for reps in reps_by_quarter.values()}) == 1
    periods = {o["data"]["period"] for o in quotas}
    assert {"2026-Q1", "2026-Q2", "2026-Q3", "2026-06", "2026-09"} <= periods
    accounts: dict[str, set[str]] = {}
    for obj in facts:
        if obj["type"] == "deal.opened":
            accounts.setdefault(obj["subject"][5:11], set()).add(obj["data"]["account"])
    first, *others = accounts.values()
    assert all(len(first & other) > 0.5 * len(other) for other in others)


def test_deals_and_fact_keys_are_unique_across_quarters(
        runs: tuple[list[DemoLine], list[DemoLine]]) -> None:
    three = runs[1]
    good = [json.loads(line.raw) for line in three if line.category == "good"]
    subjects = [o["subject"] for o in good if o["type"] == "deal.opened"]
    assert len(subjects) == len(set(subjects))
    keys = [(o["source"], o["id"]) for o in good]
    assert len(keys) == len(set(keys))
    bad_ids = [m[0] for line in three if line.category == "bad" and line.bad_class != "conflict"
               for m in [re.search(rb"bad-[a-z_]+-[0-9a-z-]+", line.raw)] if m]
    assert len(bad_ids) == len(set(bad_ids))


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(min_value=0, max_value=2**32), deals=st.integers(0, 60),
       quarters=st.integers(2, 4))
def test_every_label_matches_the_models_verdict_across_quarters(
        seed: int, deals: int, quarters: int) -> None:
    model = ContractModel()
    counts = GeneratedCounts()
    for line in generate_lines(seed, deals=deals, quarters=quarters, counts=counts):
        expected = {"good": None, "duplicate": "duplicate"}.get(line.category, line.bad_class)
        assert model.judge(line.raw) == expected, line
    assert counts.deals_started == deals * quarters == len(model.deals)


def test_counts_add_up_over_quarters() -> None:
    counts = GeneratedCounts()
    lines = list(generate_lines(3, deals=100, quarters=2, counts=counts))
    assert counts.lines == len(lines)
    assert counts.good == sum(line.category == "good" for line in lines)
    assert counts.deals_started == 200


def test_quarters_must_be_positive() -> None:
    with pytest.raises(ValueError, match="quarters"):
        next(generate(7, quarters=0))


def test_cli_writes_the_first_quarter_unchanged(tmp_path: Path) -> None:
    runner = CliRunner()
    files = {}
    for quarters in (1, 2):
        path = tmp_path / f"q{quarters}.jsonl"
        result = runner.invoke(app, ["demo", "--deals", "40", "--seed", "4", "--quarters",
                                     str(quarters), "--out", str(path)])
        assert result.exit_code == 0, result.output
        files[quarters] = [DemoLine(raw, "good") for raw in path.read_bytes().splitlines()]
    _split(files[1], files[2])
    assert 1.7 * len(files[1]) < len(files[2]) < 2.3 * len(files[1])
    assert "--quarters" in runner.invoke(app, ["demo", "--help"]).output
