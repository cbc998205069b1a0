"""The relay's messages (:mod:`engine.kafka.messages`: read from the log, keyed, encoded
from the stored rows) prepared ahead of the sending, in a child process.

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

from engine.kafka.keys import EventKeys
from engine.kafka.messages import Partitions, Prepared, RelayLog, prepare
from engine.store.app import DealflowApplication
from engine.store.gc import batches, freeze_startup

__all__ = [
    "LocalPreparer",
    "Prepared",
    "PreparingProcess",
    "preparer_for",
    "use_process",
]

log = logging.getLogger(__name__)

#: How often an idle child checks that the relay that spawned it is still its parent.
_WATCH_SECONDS = 0.5
#: Chunks requested ahead of the one being sent: the child prepares while the relay sends.
_AHEAD = 3
#: The child's first message: it has opened the store.
_READY = (-1, None, "ready")


class PreparerGoneError(Exception):
    """The preparing process died or failed; the relay resends from its saved position."""


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
