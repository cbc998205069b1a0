"""The ingest hot path: many facts in, one store transaction out.

For a batch of raw inputs: parse and validate each; look up the already accepted
(``source``, ``id``) pairs in one query; decide each new fact on its aggregate (kept in an
LRU cache between batches); then save every new event together with the dedupe records,
the rejections and the counters in ONE transaction. If another writer appended to one of
the batch's aggregates first (optimistic concurrency), the batch's aggregates are evicted
and the batch is decided again from the store, never merged.
"""

from __future__ import annotations

import logging
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple, Protocol
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from engine.contract.envelope import Fact, FactIdentity, identity_of, parse_fact
from engine.contract.limits import DEFAULT_LIMITS, InputLimits
from engine.domain.deal import Deal
from engine.domain.ids import deal_id, rep_id
from engine.domain.rep import Rep
from engine.domain.routing_book import ROUTING_BOOK_ID, RoutingBook
from engine.errors import (
    ConcurrencyConflictError,
    DuplicateConflictError,
    FactRejectedError,
    RuleViolationError,
)
from engine.handlers import handle
from engine.ingest.summary import BatchCounts
from engine.routing import RoutingRegistry
from engine.store import gc as store_gc
from engine.store.app import DealflowApplication
from engine.store.recorders import KafkaOffset
from engine.store.rows import AcceptedFactRow, RejectionRow
from engine.translate import to_command
from workflows import WorkflowRegistry

__all__ = ["BatchResult", "IngestObserver", "Ingestor", "Outcome", "Parsed", "RawInput",
           "open_loads"]

#: What changes an open load: read once, when a store written before 1.1 gets its book.
_LOAD_TOPICS = [e.TOPIC for e in (Deal.Opened, Deal.Routed, Deal.Reassigned,
                                  Deal.ContractSigned, Deal.Lost, Deal.Reopened)]

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 8


class RawInput(NamedTuple):
    """One input as received: its bytes and where it came from (``file.jsonl:12``).

    A named tuple: one is made per input, in a fraction of a frozen dataclass's time."""

    raw: bytes
    origin: str


class Outcome(NamedTuple):
    """What happened to one input: ``accepted``, ``duplicate`` or ``rejected``.

    A named tuple: one is made per input, and a tuple is made in a fraction of a frozen
    dataclass's time (whose ``__init__`` sets each field through ``object.__setattr__``)."""

    status: str
    origin: str
    reason: str | None = None
    message: str | None = None
    field: str | None = None
    source: str | None = None
    fact_id: str | None = None
    fact_type: str | None = None


class IngestObserver(Protocol):
    """Told about every stored batch (metrics); must be cheap and must not raise."""

    def batch_stored(self, result: BatchResult, seconds: float, attempts: int) -> None:
        """A batch was decided and committed in ``seconds`` after ``attempts`` tries."""


@dataclass
class BatchResult:
    """Counts and per-input outcomes of one batch, and the log position reached."""

    outcomes: list[Outcome] = field(default_factory=list)
    last_position: int | None = None
    events: int = 0

    @property
    def accepted(self) -> int:
        """Inputs accepted."""
        return sum(1 for o in self.outcomes if o.status == "accepted")

    @property
    def duplicates(self) -> int:
        """Inputs that repeated an accepted fact (changed nothing)."""
        return sum(1 for o in self.outcomes if o.status == "duplicate")

    @property
    def rejected(self) -> Counter[str]:
        """Rejected inputs by reason."""
        return Counter(o.reason or "?" for o in self.outcomes if o.status == "rejected")

    def counts(self) -> BatchCounts:
        """The batch in numbers."""
        return BatchCounts(len(self.outcomes), self.accepted, self.duplicates, self.events,
                           dict(self.rejected), self.last_position)


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class _Invalid:
    """An input that failed validation, with whatever identity it validly carries."""

    error: FactRejectedError
    identity: FactIdentity


#: An input as validated: its fact, or its refusal (see :meth:`Ingestor.parse`).
Parsed = Fact | _Invalid


class _StaleCacheError(Exception):
    """A cached aggregate turned out to be behind the store; the batch is decided again."""


class _UnitOfWork:
    """Aggregates one attempt of one batch touches (see :class:`engine.handlers.Aggregates`)."""

    def __init__(self, ingestor: Ingestor) -> None:
        self.workflows = ingestor.workflows
        self.routing = ingestor.routing
        self._book: RoutingBook | None = None
        self._ingestor = ingestor
        self.touched: dict[UUID, Deal | Rep | RoutingBook | None] = {}
        self.cached_versions: dict[UUID, int] = {}
        self.refused_on: dict[UUID, int] = {}

    def _find(self, aggregate_id: UUID) -> Any:
        if aggregate_id in self.touched:
            return self.touched[aggregate_id]
        found, from_cache = self._ingestor.cached(aggregate_id)
        if from_cache and found is not None:
            self.cached_versions[aggregate_id] = found.version
        self.touched[aggregate_id] = found
        return found

    def prefetch(self, aggregate_ids: Sequence[UUID]) -> None:
        """Load every aggregate the batch needs and the cache lacks, in one query.

        Ids with no events are remembered as absent, so opening a new deal costs no query.
        """
        missing = [i for i in dict.fromkeys(aggregate_ids)
                   if i not in self.touched and not self._ingestor.is_cached(i)]
        if not missing:
            return
        app = self._ingestor.app
        loaded: dict[UUID, Any] = dict.fromkeys(missing)
        for stored in app.store.select_events_of(missing):
            event: Any = app.mapper.to_domain_event(stored)
            loaded[event.originator_id] = event.mutate(loaded[event.originator_id])
        self.touched.update(loaded)

    def check_fresh(self, fact: Fact) -> None:
        """Before refusing ``fact`` on a cached aggregate, make sure the cache was current.

        An accepted fact on a stale aggregate fails at save (version conflict); a refusal
        writes no event, so staleness must be checked: the aggregate is noted here, and
        :meth:`verify_fresh` checks all the batch's noted aggregates in one query before
        the batch is saved (a refusal is rare, but one query each cost a round trip each
        on PostgreSQL).
        """
        target = _target(fact)
        version = self.cached_versions.get(target)
        if version is not None:
            self.refused_on[target] = version

    def verify_fresh(self) -> None:
        """Raise ``_StaleCacheError`` if the store holds a newer version of any cached
        aggregate a fact of this attempt was refused on (see :meth:`check_fresh`)."""
        if not self.refused_on:
            return
        stored = self._ingestor.app.store.last_versions(list(self.refused_on))
        for aggregate_id, version in self.refused_on.items():
            if stored.get(aggregate_id, 0) > version:
                raise _StaleCacheError(aggregate_id)

    def find_deal(self, subject: str) -> Deal | None:
        found = self._find(deal_id(subject))
        return found if isinstance(found, Deal) else None

    def find_rep(self, rep: str) -> Rep | None:
        found = self._find(rep_id(rep))
        return found if isinstance(found, Rep) else None

    def add(self, aggregate: Deal | Rep) -> None:
        self.touched[aggregate.id] = aggregate

    def routing_book(self) -> RoutingBook:
        """The routing book: a working copy for this attempt (see
        :meth:`Ingestor.book_for_batch`).

        Appending its batch event makes the save conflict with any other writer that
        changed loads, profiles or cursors since this attempt read the book."""
        if self._book is None:
            self._book = self._ingestor.book_for_batch()
        return self._book

    @property
    def book(self) -> RoutingBook | None:
        """The routing book this attempt used (None if it needed none)."""
        return self._book

    def book_events(self) -> list[Any]:
        """The routing book's event for this attempt's changes (none if untouched)."""
        if self._book is None:
            return []
        self._book.flush()
        return list(self._book.collect_events())


class Ingestor:
    """Decides and stores batches of raw inputs; keeps an LRU cache of aggregates.

    One ingestor per process and store. Its cache is only valid while this process is the
    only writer of the cached deals; callers that lose ownership (a Kafka rebalance) call
    :meth:`forget`.
    """

    def __init__(
        self,
        app: DealflowApplication,
        workflows: WorkflowRegistry,
        *,
        routing: RoutingRegistry,
        cache_size: int = 20_000,
        clock: Callable[[], datetime] = _utc_now,
        observer: IngestObserver | None = None,
        limits: InputLimits = DEFAULT_LIMITS,
    ) -> None:
        self.app = app
        self.limits = limits
        self.workflows = workflows
        self.routing = routing
        self.cache_size = cache_size
        self.clock = clock
        self.observer = observer
        self._cache: OrderedDict[UUID, Deal | Rep | RoutingBook] = OrderedDict()
        self.conflicts_retried = 0
        # The routing book as last saved or read (never the copy a batch changes), and
        # whether the store may hold newer book events (another writer, a failed save).
        self._book: RoutingBook | None = None
        self._book_behind = True

    # ------------------------------------------------------------------ cache
    def cached(self, aggregate_id: UUID) -> tuple[Deal | Rep | RoutingBook | None, bool]:
        """The aggregate from the cache, else from the store, else None; and if cached."""
        aggregate = self._cache.get(aggregate_id)
        if aggregate is not None:
            self._cache.move_to_end(aggregate_id)
            return aggregate, True
        try:
            loaded: Deal | Rep | RoutingBook = self.app.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None, False
        return loaded, False

    def is_cached(self, aggregate_id: UUID) -> bool:
        """Whether the aggregate is in the cache (no store access)."""
        return aggregate_id in self._cache

    def _remember(self, aggregates: Sequence[Deal | Rep | RoutingBook]) -> None:
        for aggregate in aggregates:
            self._cache[aggregate.id] = aggregate
            self._cache.move_to_end(aggregate.id)
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)

    def forget(self, aggregate_ids: Sequence[UUID] | None = None) -> None:
        """Drop cached aggregates (all of them by default); the routing book is then read
        up to the store's head before its next use."""
        self._book_behind = True
        if aggregate_ids is None:
            self._cache.clear()
        for aggregate_id in aggregate_ids or ():
            self._cache.pop(aggregate_id, None)

    def book_for_batch(self) -> RoutingBook:
        """A copy of the routing book for one attempt to change.

        Kept in memory between batches (the saved one is never changed); when it may be
        behind the store, only the book's newer events are read and applied, so a
        conflict costs one small query, not a replay of the whole book."""
        if self._book_behind:
            book = self._book
            if book is None:
                try:
                    book = self.app.repository.get(ROUTING_BOOK_ID)
                except AggregateNotFoundError:
                    book = None
            else:
                for stored in self.app.recorder.select_events(ROUTING_BOOK_ID,
                                                              gt=book.version):
                    event: Any = self.app.mapper.to_domain_event(stored)
                    book = event.mutate(book)
            self._book, self._book_behind = book, False
        return self._first_book() if self._book is None else self._book.copy()

    def _first_book(self) -> RoutingBook:
        """The book of a store that has none: empty for a new store; for a store written
        before version 1.1, started with the open loads its deals' events give."""
        book = RoutingBook.start()
        for rep, load in open_loads(self.app).items():
            for _ in range(load):
                book.move_load(None, rep)
        return book

    # ----------------------------------------------------------------- ingest
    def ingest(
        self, inputs: Sequence[RawInput], *, offsets: Sequence[KafkaOffset] = (),
        parsed: Sequence[Parsed | None] | None = None,
    ) -> BatchResult:
        """Decide and store a batch; ``offsets`` commit in the same transaction.

        ``parsed``: the inputs as already validated by a helper process (see
        :mod:`engine.ingest.parallel`, which gives None for each input it refused: it is
        parsed again here); the rest are parsed here.

        The cyclic collector is off while a batch is decided and stored, and collects the
        young generations once after it: a batch's objects live exactly as long as the
        batch, and automatic runs every 700 allocations cost ~10 us per fact.
        """
        with store_gc.batches() as collect:
            try:
                return self._ingest(inputs, offsets, parsed)
            finally:
                collect()

    def _parse_one(self, item: RawInput) -> Parsed:
        try:
            return parse_fact(item.raw, self.limits)
        except FactRejectedError as exc:
            # Keep no traceback: its frames would hold the whole batch alive.
            return _Invalid(_detached(exc), identity_of(item.raw))

    def _ingest(self, inputs: Sequence[RawInput], offsets: Sequence[KafkaOffset],
                facts: Sequence[Parsed | None] | None) -> BatchResult:
        parsed: list[Parsed] = []
        for index, item in enumerate(inputs):
            known = facts[index] if facts is not None else None
            parsed.append(known if known is not None else self._parse_one(item))
        started = time.perf_counter()
        for attempt in range(1, MAX_ATTEMPTS + 1):
            uow = _UnitOfWork(self)
            try:
                result = self._attempt(inputs, parsed, uow, offsets)
            except (IntegrityError, _StaleCacheError):
                # Another writer got there first (a deal's next version, or the same fact
                # id): forget what this attempt decided and decide again from the store.
                self.conflicts_retried += 1
                self.forget(list(uow.touched))
                log.info("concurrency conflict in a batch of %d; retrying", len(inputs))
                continue
            except BaseException:
                # Nothing was saved: the aggregates this attempt changed must not stay cached.
                self.forget(list(uow.touched))
                raise
            if self.observer is not None:
                self.observer.batch_stored(result, time.perf_counter() - started, attempt)
            return result
        raise ConcurrencyConflictError(
            f"a batch of {len(inputs)} inputs conflicted {MAX_ATTEMPTS} times in a row"
        )

    def _attempt(
        self,
        inputs: Sequence[RawInput],
        parsed: Sequence[Fact | _Invalid],
        uow: _UnitOfWork,
        offsets: Sequence[KafkaOffset],
    ) -> BatchResult:
        now = self.clock().isoformat()
        facts = [p for p in parsed if isinstance(p, Fact)]
        known = self.app.store.known_digests([(f.source, f.id) for f in facts])
        uow.prefetch([_target(f) for f in facts])
        result = BatchResult()
        events: list[Any] = []
        accepted: list[AcceptedFactRow] = []
        rejections: list[RejectionRow] = []
        for item, fact in zip(inputs, parsed, strict=True):
            try:
                if isinstance(fact, _Invalid):
                    raise fact.error
                key = (fact.source, fact.id)
                digest = known.get(key)
                if digest is not None:
                    if digest != fact.digest:
                        raise DuplicateConflictError(
                            f"conflict: ({fact.source}, {fact.id}) was already accepted with "
                            "different content",
                            field="id",
                        )
                    result.outcomes.append(Outcome("duplicate", item.origin, None, None, None,
                                                   fact.source, fact.id, fact.type))
                    continue
                try:
                    events.extend(handle(to_command(fact), uow))
                except RuleViolationError:
                    uow.check_fresh(fact)
                    raise
            except FactRejectedError as caught:
                exc = _detached(caught)
                who = fact.identity if isinstance(fact, _Invalid) else fact
                # Stamped when decided, so that a refusal sorts after what the batch
                # accepted before it (an event's time is its decision's too).
                decided = self.clock().isoformat()
                rejections.append(_rejection_row(item, who, exc, decided, self.limits))
                result.outcomes.append(Outcome(
                    "rejected", item.origin, exc.reason, exc.message, exc.field,
                    who.source, who.id, who.type,
                ))
                continue
            known[key] = fact.digest
            accepted.append(AcceptedFactRow(fact.source, fact.id, fact.digest, fact.type,
                                            fact.subject, now))
            # By position (status, origin, reason, message, field, source, fact_id,
            # fact_type): keywords cost more per fact.
            result.outcomes.append(Outcome("accepted", item.origin, None, None, None,
                                           fact.source, fact.id, fact.type))
        uow.verify_fresh()
        events.extend(uow.book_events())
        counters = {
            "accepted": len(accepted),
            "duplicates": result.duplicates,
            "rejected": len(rejections),
        }
        positions = self.app.append(
            events, accepted=accepted, rejections=rejections, counters=counters, offsets=offsets
        )
        result.events = len(positions)
        if positions:
            result.last_position = max(positions)
        # What came from the cache is still in it, moved to its end when this attempt
        # read it (``cached``): only the aggregates loaded or created here go in.
        cached = uow.cached_versions
        self._remember([a for i, a in uow.touched.items()
                        if a is not None and i not in cached])
        if uow.book is not None:
            self._book = uow.book
        return result


def open_loads(app: DealflowApplication) -> dict[str, int]:
    """Each rep's open load as the deals' events in the log give it (owner of each open
    deal); reps with none are left out."""
    owners: dict[object, tuple[str | None, bool]] = {}
    start = 1
    while page := app.recorder.select_notifications(start, 5000, topics=_LOAD_TOPICS):
        for stored in page:
            event: Any = app.mapper.to_domain_event(stored)
            owner, open_ = owners.get(stored.originator_id, (None, True))
            if isinstance(event, Deal.Opened | Deal.Routed | Deal.Reassigned):
                owner = event.owner
            elif isinstance(event, Deal.ContractSigned | Deal.Lost | Deal.Reopened):
                open_ = isinstance(event, Deal.Reopened)
            owners[stored.originator_id] = (owner, open_)
        start = page[-1].id + 1
    loads: dict[str, int] = {}
    for owner, open_ in owners.values():
        if open_ and owner is not None:
            loads[owner] = loads.get(owner, 0) + 1
    return loads


def _detached(exc: FactRejectedError) -> FactRejectedError:
    """The same rejection without traceback or chained cause (nothing kept alive)."""
    exc.__traceback__ = None
    exc.__cause__ = None
    exc.__context__ = None
    return exc


def _target(fact: Fact) -> UUID:
    """The aggregate a fact is about."""
    return rep_id(fact.subject) if fact.type.startswith("rep.") else deal_id(fact.subject)


def _rejection_row(
    item: RawInput, who: Fact | FactIdentity, exc: FactRejectedError, recorded_at: str,
    limits: InputLimits,
) -> RejectionRow:
    return RejectionRow(
        recorded_at=recorded_at,
        origin=item.origin,
        reason=exc.reason,
        field=exc.field,
        message=exc.message,
        source=who.source,
        fact_id=who.id,
        fact_type=who.type,
        subject=who.subject,
        raw=limits.kept(item.raw),
    )
