"""Delivery disorder: duplicates, late facts and bad inputs mixed into the time-ordered stream.

Only facts marked ``deferrable`` are held back and delivered late, so no deal's required
fact ever arrives after the stage change that needs it. Duplicates and conflicts are always
scheduled after the line they copy was delivered, so the original is accepted first.
"""

from __future__ import annotations

import heapq
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass

from engine.demo.clock import DAY, HOUR, MINUTE
from engine.demo.facts import ScriptItem
from engine.demo.lines import DemoLine, GeneratedCounts
from engine.demo.noise import FIELD_CLASSES, Noise

__all__ = ["Delivery", "NoiseRates"]


@dataclass(frozen=True, slots=True)
class NoiseRates:
    """Chances per delivered good line (``late`` per deferrable fact, ``conflict`` per activity)."""

    late: float = 0.08
    duplicate: float = 0.03
    field_bad: float = 0.012
    unknown_deal: float = 0.002
    conflict: float = 0.004


@dataclass(slots=True)
class _Held:
    release: int
    order: int
    time: int
    raw: bytes
    type: str
    category: str  # "late", "duplicate" or "conflict"

    def __lt__(self, other: _Held) -> bool:
        return (self.release, self.order) < (other.release, other.order)


class Delivery:
    """Turns time-ordered :class:`ScriptItem` s into delivered :class:`DemoLine` s."""

    def __init__(
        self,
        rng: random.Random,
        noise: Noise,
        counts: GeneratedCounts,
        rates: NoiseRates | None = None,
    ) -> None:
        self._rng = rng
        self._noise = noise
        self._counts = counts
        self._rates = rates or NoiseRates()
        self._held: list[_Held] = []
        self._order = 0
        self._clock = -1  # latest time among good lines delivered in order
        self._deck = list(FIELD_CLASSES)
        self._first_round = True
        self._owed = {"unknown_deal", "conflict"}
        self._sent_at = -1

    @property
    def sent_at(self) -> int:
        """When the lines handed out last were sent: never decreases, so streams of several
        deliveries can be merged by it."""
        return self._sent_at

    def feed(self, item: ScriptItem) -> Iterator[DemoLine]:
        """Deliver ``item`` (or hold it back), after whatever is due by its time."""
        self._sent_at = max(self._sent_at, item.time)
        yield from self._release(item.time)
        if item.bad is not None:
            yield self._out(DemoLine(item.raw, "bad", item.bad))
        elif item.deferrable and self._rng.random() < self._rates.late:
            delay = self._rng.randint(30 * MINUTE, 36 * HOUR)
            self._hold(item.time + delay, item.time, item.raw, item.type, "late")
        else:
            self._clock = max(self._clock, item.time)
            yield from self._good(item.time, item.raw, item.type, late=False)

    def finish(self) -> Iterator[DemoLine]:
        """Deliver everything still held back."""
        yield from self._release(None)

    def _release(self, now: int | None) -> Iterator[DemoLine]:
        while self._held and (now is None or self._held[0].release <= now):
            held = heapq.heappop(self._held)
            self._sent_at = max(self._sent_at, held.release)
            if held.category == "late":
                late = self._clock > held.time
                yield from self._good(held.time, held.raw, held.type, late=late)
            elif held.category == "duplicate":
                yield self._out(DemoLine(held.raw, "duplicate"))
            else:
                yield self._out(DemoLine(held.raw, "bad", "conflict"))

    def _good(self, t: int, raw: bytes, fact_type: str, *, late: bool) -> Iterator[DemoLine]:
        yield self._out(DemoLine(raw, "good", late=late))
        rates, roll = self._rates, self._rng.random()
        field_until = rates.duplicate + rates.field_bad
        if roll < rates.duplicate:
            release = max(t, self._clock) + self._rng.randint(10, 12 * HOUR)
            self._hold(release, t, raw, fact_type, "duplicate")
        elif roll < field_until:
            yield self._derived(raw, self._next_field_class(raw))
        elif fact_type.startswith(("rep.", "forecast.")):  # a rep's fact: no deal to miss
            return
        elif self._owes_field_class(raw):
            yield self._derived(raw, self._next_field_class(raw))
        elif self._due("unknown_deal", roll < field_until + rates.unknown_deal):
            yield self._derived(raw, "unknown_deal")
        elif fact_type == "activity.logged" and self._due("conflict", roll > 1 - rates.conflict):
            conflict = Noise.conflict(json.loads(raw))
            release = max(t, self._clock) + self._rng.randint(HOUR, 3 * DAY)
            self._hold(release, t, conflict, fact_type, "conflict")

    def _due(self, bad_class: str, drawn: bool) -> bool:
        # Drawn by chance, or owed: a class not produced yet comes at its first opportunity.
        if drawn or bad_class in self._owed:
            self._owed.discard(bad_class)
            return True
        return False

    def _owes_field_class(self, raw: bytes) -> bool:
        # Until every field class has shown up once: one every 25 good lines at least, and
        # the amount class on the next fact with an amount, so a small quarter has them all.
        if not self._first_round:
            return False
        if self._deck == ["amount_precision"]:
            return b'"amount":' in raw
        return self._counts.good % 25 == 0

    def _next_field_class(self, raw: bytes) -> str:
        # A deck: each field class once per round, whichever fits the template first, so
        # every class shows up early and about equally often.
        template = json.loads(raw)
        if not self._deck:
            self._deck = list(FIELD_CLASSES)
        for name in self._deck:
            if Noise.applies(name, template):
                self._deck.remove(name)
                self._first_round = self._first_round and bool(self._deck)
                return name
        # Only amount_precision is left and this fact has no amount: any other class.
        return self._rng.choice([c for c in FIELD_CLASSES if Noise.applies(c, template)])

    def _derived(self, raw: bytes, bad_class: str) -> DemoLine:
        return self._out(DemoLine(self._noise.derive(bad_class, json.loads(raw)), "bad",
                                  bad_class))

    def _hold(self, release: int, t: int, raw: bytes, fact_type: str, category: str) -> None:
        self._order += 1
        heapq.heappush(self._held, _Held(release, self._order, t, raw, fact_type, category))

    def _out(self, line: DemoLine) -> DemoLine:
        self._counts.record(line)
        return line
