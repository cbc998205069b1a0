"""Arrival order: every deal's workflow facts come in an order its workflow allows.

The reference model re-states the stage order and each stage's required fact for both
shipped workflows and judges every line in arrival order, as the engine does.
"""

from __future__ import annotations

import json
from collections import defaultdict

from tests.demo.conftest import Quarter
from tests.demo.reference import STAGES, instant

DEFERRABLE = {"activity.logged", "payment.received", "survey.responded"}


def test_every_good_line_is_accepted_and_every_resend_is_a_duplicate(quarter: Quarter) -> None:
    for line, verdict in zip(quarter.lines, quarter.verdicts, strict=True):
        if line.category == "good":
            assert verdict is None, line
        elif line.category == "duplicate":
            assert verdict == "duplicate", line


def test_each_deal_walks_its_stages_in_order(quarter: Quarter) -> None:
    reached: dict[str, int] = defaultdict(int)
    for state in quarter.model.deals.values():
        stages = STAGES[state.workflow]
        visited = [step for step in state.history if step in stages]
        # Forward one stage at a time, except where a reopen sends the deal back.
        position = 0
        for stage in visited:
            assert stages.index(stage) <= position + 1, state.history
            position = stages.index(stage)
        reached[state.stage] += 1
    assert reached["won"] > 500 and reached["lost"] > 500
    assert sum(reached[s] for s in STAGES["standard"] + STAGES["channel"]) > 500  # still open


def test_in_order_good_lines_are_time_ordered_and_late_ones_are_truly_late(
    quarter: Quarter,
) -> None:
    latest = ""
    latest_key = 0
    for line in quarter.lines:
        if line.category != "good":
            continue
        obj = json.loads(line.raw)
        key = int(instant(obj).timestamp())  # ordered by whole seconds; esign adds millis
        if line.late:
            assert obj["type"] in DEFERRABLE, obj
            assert key < latest_key, (obj, latest)
        else:
            assert key >= latest_key, (obj, latest)
            latest, latest_key = obj["time"], key
    assert quarter.counts.late > 100


def test_duplicates_follow_their_original(quarter: Quarter) -> None:
    seen: set[bytes] = set()
    for line in quarter.lines:
        if line.category == "good":
            seen.add(line.raw)
        elif line.category == "duplicate":
            assert line.raw in seen
