"""The routing book: what routing reads, kept in the log (contract 1.1, docs/routing.md).

One aggregate with a fixed id holds every rep's profiles (all of them, to pick the one in
force at a deal's time), every rep's open load (the engine's state at arrival) and each
routing rule's round-robin cursor. Every batch that changes any of them appends one
:class:`RoutingBook.Recorded` event in the same transaction as the deals' events, so two
writers that read the same book version cannot both commit: the loser's batch is decided
again from the store (the store's optimistic concurrency, nothing home-made).

Live methods change the state at once (the next fact of the same batch must see it) and
remember what changed; :meth:`RoutingBook.flush` records the changed values as absolute
values, so the event's ``apply`` setting them again on the live object changes nothing.
"""

from __future__ import annotations

import copy as _copy
from bisect import insort
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate

__all__ = ["ROUTING_BOOK_ID", "Profile", "RoutingBook", "instant_us"]

ROUTING_BOOK_ID: UUID = uuid5(UUID("6f1c2b0e-8a4d-4c55-9d0e-5e7a1f0d2c03"), "routing-book")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)


def instant_us(at: datetime) -> int:
    """An instant as whole microseconds since the epoch (offsets honoured, no float)."""
    return (at - _EPOCH) // _US


@dataclass(frozen=True, slots=True)
class Profile:
    """One ``rep.profile_set`` as routing reads it; ``key`` orders a rep's profiles."""

    rep: str
    key: tuple[int, str, str]  # (time in us, source, fact id)
    team: str
    manager: str | None
    territories: tuple[str, ...] | None
    segments: tuple[str, ...] | None
    capacity: int | None
    active: bool

    def as_row(self) -> dict[str, Any]:
        """The profile as stored in a :class:`RoutingBook.Recorded` event."""
        return {"rep": self.rep, "at": self.key[0], "source": self.key[1],
                "fact_id": self.key[2], "team": self.team, "manager": self.manager,
                "territories": None if self.territories is None else list(self.territories),
                "segments": None if self.segments is None else list(self.segments),
                "capacity": self.capacity, "active": self.active}

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Profile:
        """Inverse of :meth:`as_row`."""
        lists = {k: None if row[k] is None else tuple(row[k])
                 for k in ("territories", "segments")}
        return cls(rep=row["rep"], key=(row["at"], row["source"], row["fact_id"]),
                   team=row["team"], manager=row["manager"], capacity=row["capacity"],
                   active=row["active"], **lists)


class RoutingBook(Aggregate):
    """Profiles, open loads and cursors, as the engine holds them when a fact arrives."""

    TOPIC = "dealflow.routing_book"

    profiles: dict[str, list[Profile]]
    loads: dict[str, int]
    cursors: dict[str, str]

    def __init__(self) -> None:
        """State is set by :class:`RoutingBook.Started`."""

    class Created(Aggregate.Created):
        """Unused: the book is created by :class:`RoutingBook.Started`."""

        TOPIC = "dealflow.routing_book.created"

    class Started(Aggregate.Created):
        """The first fact that routing reads was accepted."""

        TOPIC = "dealflow.routing_book.started"

        def apply(self, aggregate: Any) -> None:
            """Empty book."""
            aggregate.profiles = {}
            aggregate.loads = {}
            aggregate.cursors = {}
            aggregate._reset_changes()

    class Recorded(Aggregate.Event):
        """What one batch changed: new profiles, loads and cursors (absolute values)."""

        TOPIC = "dealflow.routing_book.recorded"
        profiles: list[dict[str, Any]]
        loads: dict[str, int]
        cursors: dict[str, str]

        def apply(self, aggregate: Any) -> None:
            """Set the recorded values (idempotent: the live book already holds them)."""
            book: RoutingBook = aggregate
            for row in self.profiles:
                book._insert(Profile.from_row(row))
            book.loads.update(self.loads)
            book.cursors.update(self.cursors)

    @classmethod
    def start(cls) -> RoutingBook:
        """The book of a store that has none yet."""
        return cls._create(cls.Started, id=ROUTING_BOOK_ID)

    def copy(self) -> RoutingBook:
        """An independent copy (the ingest changes a copy, so a failed save leaves the
        cached book as it was); profiles are immutable and shared."""
        twin = _copy.copy(self)
        twin.profiles = {rep: list(held) for rep, held in self.profiles.items()}
        twin.loads = dict(self.loads)
        twin.cursors = dict(self.cursors)
        twin._pending_events = []
        twin._reset_changes()
        return twin

    # ------------------------------------------------------------------ reading
    def load(self, rep: str) -> int:
        """The rep's open load: open deals it owns."""
        return self.loads.get(rep, 0)

    def profiles_at(self, at: datetime) -> dict[str, Profile]:
        """Each rep's profile in force at ``at``: the last by (time, source, id) at or
        before it, among those received so far; reps with none are left out."""
        limit = instant_us(at)
        found: dict[str, Profile] = {}
        for rep, profiles in self.profiles.items():
            for profile in reversed(profiles):
                if profile.key[0] <= limit:
                    found[rep] = profile
                    break
        return found

    def cursor(self, key: str) -> str | None:
        """The rep a rule chose last (``key`` from ``RoutingDefinition.cursor_key``)."""
        return self.cursors.get(key)

    # ------------------------------------------------------------------ changes
    def note_profile(self, profile: Profile) -> None:
        """A ``rep.profile_set`` was accepted."""
        if self._insert(profile):
            self._new_profiles.append(profile)

    def move_load(self, from_rep: str | None, to_rep: str | None) -> None:
        """An open deal's load moves (None: no owner, or not open)."""
        if from_rep == to_rep:
            return
        for rep, delta in ((from_rep, -1), (to_rep, 1)):
            if rep is not None:
                self.loads[rep] = self.loads.get(rep, 0) + delta
                self._changed_loads.add(rep)

    def move_cursor(self, key: str, rep: str) -> None:
        """A round-robin rule chose ``rep``."""
        self.cursors[key] = rep
        self._changed_cursors.add(key)

    @property
    def changed(self) -> bool:
        """Whether anything changed since the last :meth:`flush`."""
        return bool(self._new_profiles or self._changed_loads or self._changed_cursors)

    def flush(self) -> None:
        """Record what changed since the last flush as one event (nothing if nothing)."""
        if not self.changed:
            return
        profiles = [p.as_row() for p in self._new_profiles]
        loads = {rep: self.loads[rep] for rep in sorted(self._changed_loads)}
        cursors = {key: self.cursors[key] for key in sorted(self._changed_cursors)}
        self._reset_changes()
        self.trigger_event(self.Recorded, profiles=profiles, loads=loads, cursors=cursors)

    def _reset_changes(self) -> None:
        self._new_profiles: list[Profile] = []
        self._changed_loads: set[str] = set()
        self._changed_cursors: set[str] = set()

    def _insert(self, profile: Profile) -> bool:
        held = self.profiles.setdefault(profile.rep, [])
        if any(p.key == profile.key for p in held):
            return False
        insort(held, profile, key=lambda p: p.key)
        return True
