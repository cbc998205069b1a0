"""The relay's messages, prepared (read from the log, keyed, encoded from the stored rows:
:class:`RelayLog`) ahead of the sending, in a child process.

kafka-python is pure Python: building record batches and its sender thread need the GIL, as
the relay's own reading, decoding, key resolution and encoding do, so in one process the two
take turns. :class:`PreparingProcess` moves the relay's part into a child process (spawned,
like serve's views process) that answers each request with the next chunk of ready
messages, in log order; the relay keeps a few chunks requested ahead (memory stays flat)
and only sends. The child holds nothing that matters: the relay's position still moves only
with acknowledgements, so a SIGKILL of either process loses nothing (the relay resends from
its saved position). The child ends when the relay stops it, when the relay's end of the
pipe closes, or when its parent is no longer the process that spawned it (a killed relay).

:class:`LocalPreparer` does the same work in the calling thread (an in-memory store, which
no other process can open).
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import queue
import signal
import threading
from collections.abc import Callable, Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import (
    DatetimeAsISO,
    DecimalAsStr,
    JSONTranscoder,
    StoredEvent,
)
from eventsourcing.sqlite import SQLiteApplicationRecorder
from eventsourcing.utils import resolve_topic
from kafka.partitioner.default import murmur2

from engine.kafka.keys import EventKeys
from engine.kafka.schema import encode_event, encode_stored
from engine.store.app import DateAsISO, DealflowApplication
from engine.store.gc import batches, freeze_startup
from engine.store.log import LogReader

__all__ = [
    "LocalPreparer",
    "Prepared",
    "PreparingProcess",
    "RelayLog",
    "prepare",
    "preparer_for",
    "use_process",
]

log = logging.getLogger(__name__)

#: position, partition, key, value, headers: what ``KafkaProducer.send`` takes for one event.
Prepared = tuple[int, int, bytes, bytes, list[tuple[str, bytes]]]
#: How often an idle child checks that the relay that spawned it is still its parent.
_WATCH_SECONDS = 0.5
#: Chunks requested ahead of the one being sent: the child prepares while the relay sends.
_AHEAD = 3
_PARTITIONS_OF_KEYS = 100_000  # keys whose partition is kept
_IDS = 20_000  # originator ids parsed and kept, as LogReader keeps them
#: The child's first message: it has opened the store.
_READY = (-1, None, "ready")


class PreparerGoneError(Exception):
    """The preparing process died or failed; the relay resends from its saved position."""


class Partitions:
    """The partition of each key, as kafka-python's default partitioner picks it (murmur2
    of the key over all of the topic's partitions), computed once per key."""

    def __init__(self, partitions: Sequence[int]) -> None:
        """``partitions``: the topic's partition ids."""
        self.partitions = sorted(partitions)
        self._of: dict[bytes, int] = {}

    def of(self, key: bytes) -> int:
        """The partition of ``key``."""
        partition = self._of.get(key)
        if partition is None:
            if len(self._of) > _PARTITIONS_OF_KEYS:
                self._of.clear()
            index = (murmur2(key) & 0x7FFFFFFF) % len(self.partitions)
            partition = self._of[key] = self.partitions[index]
        return partition


#: A stored event as the relay reads it: position, originator id (and its text), version,
#: topic, stored state.
Row = tuple[int, UUID, str, int, str, bytes]


class RelayLog:
    """The log as the relay reads it: stored rows, decoded only where the message needs
    the event (an aggregate not keyed yet, a state :func:`encode_stored` leaves to the
    decoded path).

    A message is the event's stored state re-encoded in the outbound schema, so building
    the event object (reviving every datetime and decimal, then writing them out again)
    was a quarter of the relay's own time. Rows are read as :class:`LogReader` reads them
    on SQLite (the same query, one UUID per aggregate); any other store, or one whose
    states are compressed, encrypted or transcoded differently, goes through
    :class:`LogReader` and the decoded events."""

    def __init__(self, app: DealflowApplication) -> None:
        """Read ``app``'s log."""
        self.app = app
        self.reader = LogReader(app)
        recorder: Any = app.recorder
        mapper = app.mapper
        names = getattr(mapper.transcoder, "names", {})
        self._table: str | None = None
        if (isinstance(recorder, SQLiteApplicationRecorder)
                and recorder.datastore.originator_id_type == "uuid"
                and mapper.cipher is None and mapper.compressor is None
                and isinstance(mapper.transcoder, JSONTranscoder)
                and type(names.get("datetime_iso")) is DatetimeAsISO
                and type(names.get("decimal_str")) is DecimalAsStr
                and type(names.get("date_iso")) is DateAsISO):
            self._table = recorder.events_table_name
        self._ids: dict[str, tuple[UUID, str]] = {}
        self._classes: dict[str, type] = {}

    @property
    def stored(self) -> bool:
        """Whether messages are encoded from the stored rows."""
        return self._table is not None

    def rows(self, after: int, limit: int) -> list[Row]:
        """At most ``limit`` stored events after position ``after`` (only when
        :attr:`stored`)."""
        assert self._table is not None
        recorder: Any = self.app.recorder
        with recorder.datastore.transaction(commit=False) as cursor:
            rows_of = cursor.sqlite_cursor
            rows_of.row_factory = None  # plain tuples, not sqlite3.Row
            rows_of.execute(
                f"SELECT rowid, originator_id, originator_version, topic, state FROM "
                f"{self._table} WHERE rowid > ? ORDER BY rowid LIMIT ?", (after, limit))
            found = rows_of.fetchall()
        ids = self._ids
        if len(ids) > _IDS:
            ids.clear()
        out: list[Row] = []
        for position, stored_id, version, topic, state in found:
            known = ids.get(stored_id)
            if known is None:
                originator = UUID(stored_id)
                known = ids[stored_id] = (originator, str(originator))
            out.append((position, known[0], known[1], version, topic, state))
        return out

    def event_class(self, topic: str) -> type:
        """The domain event class stored under ``topic``."""
        found = self._classes.get(topic)
        if found is None:
            found = self._classes[topic] = resolve_topic(topic)
        return found

    def decode(self, row: Row) -> Any:
        """The domain event of ``row``, as the application's mapper decodes it."""
        return self.app.mapper.to_domain_event(StoredEvent(
            originator_id=row[1], originator_version=row[3], topic=row[4], state=row[5]))


def prepare(log: RelayLog, keys: EventKeys, partitions: Partitions, after: int,
            limit: int) -> list[Prepared]:
    """At most ``limit`` events after position ``after``, ready to send."""
    if not log.stored:
        return _prepare_decoded(log.reader, keys, partitions, after, limit)
    rows = log.rows(after, limit)
    # Aggregates not keyed yet: the first event of each is decoded, and they are keyed
    # together (one query).
    cached = keys.cached
    found: list[str | None] = [cached(row[1]) for row in rows]
    firsts: dict[UUID, int] = {}
    for i, key in enumerate(found):
        if key is None:
            firsts.setdefault(rows[i][1], i)
    decoded: dict[int, Any] = {}
    if firsts:
        events = [log.decode(rows[i]) for i in firsts.values()]
        named = dict(zip(firsts, keys.keys(events), strict=True))
        decoded = dict(zip(firsts.values(), events, strict=True))
        found = [key if key is not None else named[row[1]]
                 for row, key in zip(rows, found, strict=True)]
    partition_of = partitions.of
    event_class = log.event_class
    out: list[Prepared] = []
    for i, (row, maybe) in enumerate(zip(rows, found, strict=True)):
        assert maybe is not None
        key = maybe
        position, originator, text, version, topic, state = row
        event = decoded.get(i)
        message = None
        if event is None:
            message = encode_stored(state, event_class(topic), topic=topic,
                                    position=position, key=key, originator_id=originator,
                                    originator_text=text, originator_version=version)
            if message is None:
                event = log.decode(row)
        if message is None:
            message = encode_event(event, topic=topic, position=position, key=key,
                                   originator_text=text)
        key_bytes = key.encode()
        out.append((position, partition_of(key_bytes), key_bytes, message[0], message[1]))
    return out


def _prepare_decoded(reader: LogReader, keys: EventKeys, partitions: Partitions, after: int,
                     limit: int) -> list[Prepared]:
    logged = reader.read(after, limit)
    found = keys.keys([item.event for item in logged])
    partition_of = partitions.of
    out: list[Prepared] = []
    for item, key in zip(logged, found, strict=True):
        value, headers = encode_event(item.event, topic=item.topic, position=item.position,
                                      key=key, originator_text=item.originator_text)
        key_bytes = key.encode()
        out.append((item.position, partition_of(key_bytes), key_bytes, value, headers))
    return out


class LocalPreparer:
    """Prepares in the calling thread (same interface as :class:`PreparingProcess`)."""

    def __init__(self, app: DealflowApplication, keys: EventKeys, batch_size: int) -> None:
        """Read through ``app`` and key with ``keys``, ``batch_size`` events at a time."""
        self.log = RelayLog(app)
        self.keys = keys
        self.batch_size = batch_size
        self._after = 0
        self._partitions = Partitions([0])

    def start(self) -> None:
        """Nothing to start."""

    def seek(self, position: int, partitions: Sequence[int]) -> None:
        """The next chunk starts after ``position``; keys go to ``partitions``."""
        self._after = position
        if sorted(partitions) != self._partitions.partitions:
            self._partitions = Partitions(partitions)

    def next(self) -> list[Prepared]:
        """The next chunk (empty: the log has no more now)."""
        chunk = prepare(self.log, self.keys, self._partitions, self._after,
                        self.batch_size)
        if chunk:
            self._after = chunk[-1][0]
        return chunk

    def close(self) -> None:
        """Nothing to close."""


def _serve(url: str, batch_size: int, conn: Any, log_level: int
           ) -> None:  # pragma: no cover - runs in the child
    """Child: answer ``("next", gen)`` with ``(gen, chunk, None)`` (or ``(gen, None, why)``
    on a failure); ``("seek", position, partitions, gen)`` moves the cursor; ``("stop",)``
    ends. A thread sends the answers, so the next chunk is prepared meanwhile."""
    from engine.store.sql import sql_engine

    # A Ctrl-C reaches the whole process group: the relay finishes what is in flight and
    # then stops this one; it must not die first.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    logging.basicConfig(level=log_level)
    spawner = multiprocessing.parent_process()
    parent = spawner.pid if spawner is not None and spawner.pid else os.getppid()
    app = DealflowApplication(url, create_tables=False)
    sql = sql_engine(url)
    relay_log, keys = RelayLog(app), EventKeys(app, sql)
    freeze_startup()
    conn.send(_READY)
    # At most the chunks the relay asked for wait here (a few): memory stays flat.
    answers: queue.SimpleQueue[tuple[int, list[Prepared] | None, str | None] | None] = (
        queue.SimpleQueue())
    sender = threading.Thread(target=_forward, args=(answers, conn), daemon=True)
    sender.start()
    try:
        _answer(conn, parent, answers, lambda partitions, after: prepare(
            relay_log, keys, partitions, after, batch_size))
    except (EOFError, OSError):
        pass  # the relay's end is closed: it is gone
    finally:
        answers.put(None)
        sql.dispose()
        app.close()
    # Nothing is left to flush or close: skip the interpreter's slow teardown (the relay
    # waits for this process to end).
    os._exit(0)


def _answer(conn: Any, parent: int, answers: queue.SimpleQueue[Any],
            prepare_after: Callable[[Partitions, int], list[Prepared]]
            ) -> None:  # pragma: no cover - runs in the child
    partitions = Partitions([0])
    after, gen = 0, 0
    with batches() as collect:  # a chunk's objects die together: collect between chunks
        while True:
            if not conn.poll(_WATCH_SECONDS):
                if os.getppid() != parent:
                    return  # the relay was killed: never outlive it
                continue
            request = conn.recv()
            if request[0] == "stop":
                return
            if request[0] == "seek":
                _, after, numbers, gen = request
                partitions = Partitions(numbers)
                continue
            try:
                chunk = prepare_after(partitions, after)
            except Exception as exc:
                answers.put((gen, None, repr(exc)))
                continue
            if chunk:
                after = chunk[-1][0]
            answers.put((gen, chunk, None))
            collect()


def _forward(answers: queue.SimpleQueue[Any], conn: Any) -> None:  # pragma: no cover
    while (answer := answers.get()) is not None:
        try:
            conn.send(answer)
        except OSError:
            return  # the relay is gone; the main loop sees it too


class PreparingProcess:
    """A child process that prepares the relay's messages; see the module docstring.

    Until the child has opened the store (a spawned process imports dealflow first, which
    takes a moment), chunks are prepared in the calling thread by ``local``; the child
    then takes over from the position reached."""

    def __init__(self, url: str, batch_size: int, local: LocalPreparer) -> None:
        """Prepare chunks of ``batch_size`` events from the store at ``url``; nothing runs
        until :meth:`start`."""
        self.url = url
        self.batch_size = batch_size
        self.local = local
        self._context = multiprocessing.get_context("spawn")
        self._ready = False  # the child has said it is ready
        self._process: Any = None
        self._conn: Any = None
        self._gen = 0
        self._after = 0
        self._partitions = [0]
        self._pending = 0  # requests of the current generation not answered yet
        self._stale = 0  # requests of earlier generations not answered yet

    @property
    def alive(self) -> bool:
        """Whether the child runs."""
        return self._process is not None and bool(self._process.is_alive())

    @property
    def ready(self) -> bool:
        """Whether the child has taken over (it had opened the store when last asked)."""
        return self._ready

    @property
    def pid(self) -> int | None:
        """The child's pid while it runs."""
        return int(self._process.pid) if self.alive else None

    def start(self) -> None:
        """Start the child unless it runs (it opens the store while the caller goes on)."""
        if self.alive:
            return
        self.close()
        ours, theirs = self._context.Pipe()
        level = logging.getLogger("engine").getEffectiveLevel()
        self._process = self._context.Process(
            target=_serve, args=(self.url, self.batch_size, theirs, level),
            name="dealflow-relay-prepare", daemon=True)
        self._process.start()
        theirs.close()  # only the child holds it: the child's death closes our end's peer
        self._conn = ours
        self._pending = self._stale = 0
        self._ready = False

    def seek(self, position: int, partitions: Sequence[int] | None = None) -> None:
        """The next chunk starts after ``position`` (keys go to ``partitions``, by default
        the last ones given); chunks asked for before are dropped."""
        if partitions is not None:
            self._partitions = sorted(partitions)
        self._gen += 1
        self._stale += self._pending
        self._pending = 0
        self._after = position
        if self._ready:
            self._send(("seek", position, self._partitions, self._gen))

    def next(self) -> list[Prepared]:
        """The next chunk in log order (empty: the log has no more now); asks for the
        following ones ahead. ``PreparerGoneError`` if the child failed or died."""
        if not self._ready:
            if self._conn is None or not self._conn.poll(0):
                return self._next_here()
            if self._receive() != _READY:
                raise PreparerGoneError("the preparing process did not start")
            self._ready = True
            self.seek(self._after)
        if self._pending == 0:
            self._request(1)
        while True:
            gen, chunk, why = self._receive()
            if gen != self._gen:
                self._stale -= 1
                continue
            self._pending -= 1
            break
        if why is not None:
            raise PreparerGoneError(f"preparing the relay's messages failed: {why}")
        assert chunk is not None
        if chunk:
            self._after = chunk[-1][0]
            self._request(_AHEAD - self._pending)
        elif self._pending:
            # At the head: what was asked ahead is answered now, and would be stale when
            # read after an idle wait; the next call asks afresh.
            self.seek(self._after)
        return chunk

    def _next_here(self) -> list[Prepared]:
        self.local.seek(self._after, self._partitions)
        chunk = self.local.next()
        if chunk:
            self._after = chunk[-1][0]
        return chunk

    def close(self, timeout: float = 5.0) -> None:
        """Stop the child and wait for it (killing it if it does not end in time)."""
        process, conn = self._process, self._conn
        self._process = self._conn = None
        self._ready = False
        if conn is not None:
            with contextlib.suppress(OSError):  # already gone
                conn.send(("stop",))
            conn.close()
        if process is not None:
            process.join(timeout)
            if process.is_alive():
                process.kill()
                process.join(timeout)
            process.close()

    def _request(self, count: int) -> None:
        for _ in range(count):
            self._send(("next", self._gen))
            self._pending += 1

    def _send(self, message: tuple[Any, ...]) -> None:
        if self._conn is None:
            raise PreparerGoneError("the preparing process is not running")
        try:
            self._conn.send(message)
        except OSError as exc:
            raise PreparerGoneError(f"the preparing process is gone: {exc!r}") from exc

    def _receive(self) -> tuple[int, list[Prepared] | None, str | None]:
        conn = self._conn
        if conn is None:
            raise PreparerGoneError("the preparing process is not running")
        try:
            while not conn.poll(_WATCH_SECONDS):
                if not self.alive:
                    raise PreparerGoneError("the preparing process died (exit code "
                                            f"{self._process.exitcode})")
            reply: tuple[int, list[Prepared] | None, str | None] = conn.recv()
        except (EOFError, OSError) as exc:
            raise PreparerGoneError(f"the preparing process is gone: {exc!r}") from exc
        return reply


def use_process(choice: str, cores: int, load: float) -> bool:
    """Whether to prepare in a child process (``choice``: always, never or auto) on a
    machine of ``cores`` whose run queue is ``load`` (1-minute average).

    The relay keeps about one core busy itself (its loop and kafka-python's sender thread
    share the GIL), so the child can only pay on a second idle core. Without one it
    competes for the same CPU and costs more in all (the chunks are pickled and unpickled,
    the child imports and opens the store): on 2 cores at load 6-7 (bench/relay.py, medians
    of 3) the relay in one process reached 0.78x raw production, with the child 0.69x.
    Not measured on a machine with idle cores."""
    if choice == "auto":
        return cores - load >= 2
    return choice == "always"


def preparer_for(app: DealflowApplication, keys: EventKeys, batch_size: int, *,
                 process: bool = True) -> LocalPreparer | PreparingProcess:
    """A child process (with ``process``) for a store other processes can open; else (and
    for a store in memory) in the calling thread."""
    local = LocalPreparer(app, keys, batch_size)
    if not process or ":memory:" in app.url:
        return local
    return PreparingProcess(app.url, batch_size, local)
