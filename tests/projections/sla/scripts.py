"""Random valid deal histories for the SLA property tests, deliverable in several orders.

A script is a deal's "spine" (opening, the workflow path, maybe lost/reopened, maybe a
cancelled contract), whose order the workflow judges by arrival, plus extra activities
that may arrive in time order or late (after facts with later times).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import hypothesis.strategies as st

from engine.domain import deal_id
from projections.sla import SlaInstance
from tests.engine.facts import CHANNEL_PATH, STANDARD_PATH, fact, opened

BASE = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday, 08:00 in Shanghai
ZONES = [timezone(timedelta(hours=8)), UTC, timezone(timedelta(hours=-5)),
         timezone(timedelta(hours=5, minutes=30))]
_PATHS = {"standard": STANDARD_PATH, "channel": CHANNEL_PATH}
_PURPOSES = [None, "thank_you", "follow_up", "checkin", "first_call"]


@dataclass(frozen=True)
class Step:
    """One fact of a script: type, data, minutes after ``BASE``, and whether it may be late."""

    type: str
    data: dict[str, Any]
    minute: int
    late: bool = False


@dataclass(frozen=True)
class Script:
    """One deal: the spine in arrival order, and extra activities."""

    workflow: str
    spine: tuple[Step, ...]
    extras: tuple[Step, ...]

    @property
    def last_minute(self) -> int:
        """The latest time of any step."""
        return max(s.minute for s in (*self.spine, *self.extras))

    def in_time_order(self) -> list[tuple[int, Step]]:
        """(index, step) for every step, ordered by time (the spine keeps its order)."""
        indexed = list(enumerate((*self.spine, *self.extras)))
        return sorted(indexed, key=lambda pair: pair[1].minute)

    def with_late(self) -> list[tuple[int, Step]]:
        """Like :meth:`in_time_order`, but the ``late`` extras arrive after everything."""
        ordered = self.in_time_order()
        return [p for p in ordered if not p[1].late] + [p for p in ordered if p[1].late]


def _gap() -> st.SearchStrategy[int]:
    return st.one_of(st.integers(1, 180), st.integers(180, 20 * 24 * 60))


@st.composite
def scripts(draw: st.DrawFn) -> Script:
    """A random valid deal history (see the module docstring)."""
    workflow = draw(st.sampled_from(sorted(_PATHS)))
    path = _PATHS[workflow]
    minute = draw(st.integers(0, 7 * 24 * 60))
    spine = [Step("deal.opened", {}, minute)]
    steps = draw(st.one_of(st.just(len(path)), st.integers(0, len(path))))
    for type_, data in path[:steps]:
        if type_ != "contract.signed" and draw(st.integers(0, 9)) == 0:
            minute += draw(_gap())
            spine.append(Step("deal.lost", {"reason": "stalled"}, minute))
            minute += draw(_gap())
            spine.append(Step("deal.reopened", {}, minute))
        minute += draw(_gap())
        spine.append(Step(type_, data, minute))
    if steps == len(path) and draw(st.booleans()):
        minute += draw(_gap())
        spine.append(Step("contract.cancelled", {"reason": "refund"}, minute))
    elif steps < len(path) and draw(st.booleans()):
        minute += draw(_gap())
        spine.append(Step("deal.lost", {"reason": "no budget"}, minute))
    extras = draw(st.lists(st.builds(
        Step, st.just("activity.logged"),
        st.fixed_dictionaries({"kind": st.sampled_from(["call", "email", "meeting", "visit"]),
                               "purpose": st.sampled_from(_PURPOSES)}),
        st.integers(spine[0].minute + 1, spine[0].minute + 45 * 24 * 60), st.booleans(),
    ), max_size=5))
    return Script(workflow, tuple(spine), tuple(extras))


def render(script: Script, subject: str, order: list[tuple[int, Step]],
           zones: list[timezone] | None = None) -> list[dict[str, Any]]:
    """Contract facts for ``subject`` in ``order``; ids are ``<subject>-<index>``; times are
    written in ``zones[index]`` (default: +08:00), the same instants whatever the zone."""
    facts = []
    for index, step in order:
        zone = zones[index % len(zones)] if zones else ZONES[0]
        time = (BASE + timedelta(minutes=step.minute)).astimezone(zone).isoformat()
        if step.type == "deal.opened":
            facts.append(opened(subject, workflow=script.workflow, time=time)
                         | {"id": f"{subject}-{index}"})
        else:
            data = {k: v for k, v in step.data.items() if v is not None}
            facts.append(fact(step.type, subject, data, time=time, id_=f"{subject}-{index}"))
    return facts


def normalised(found: list[SlaInstance], subjects: dict[str, int]) -> list[tuple[Any, ...]]:
    """Instances of the given deals (subject -> number) with store-specific names replaced by
    the deal's number and the starting fact's index, so two deliveries can be compared."""
    by_id = {str(deal_id(subject)): (subject, n) for subject, n in subjects.items()}
    rows = []
    for i in found:
        if i.deal not in by_id:
            continue
        subject, n = by_id[i.deal]
        instance = i.instance.replace(f"crm-web/{subject}-", "")
        rows.append((n, i.rule, instance, i.started_at, i.due_at, i.outcome, i.ended_at,
                     i.cancelled_at, i.owner, i.escalation))
    return sorted(rows, key=repr)


def replay(send: Callable[[list[dict[str, Any]]], object], facts: list[dict[str, Any]],
           chunk: int, start: int, steps: list[int]) -> Iterator[datetime]:
    """Send ``facts`` ``chunk`` at a time while a clock starts ``start`` minutes after
    ``BASE`` and moves by ``steps`` minutes (one step per batch, more batches or steps than
    the other: the rest alone); yield the clock after each step, for the caller's check."""
    sends = [facts[i:i + chunk] for i in range(0, len(facts), chunk)]
    minute = start
    for step, batch in itertools.zip_longest(steps, sends):
        if batch:
            send(batch)
        minute += step or 0
        yield BASE + timedelta(minutes=minute)
