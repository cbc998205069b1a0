"""The event store: an eventsourcing Application over SQLite (default) or PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias, cast
from urllib.parse import unquote, urlsplit
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.persistence import InternalError, JSONTranscoder, Transcoder, Transcoding
from eventsourcing.utils import get_topic

from engine.errors import ConfigurationError
from engine.store.recorders import DealflowSQLiteRecorder, EventRow
from engine.store.transcoder import FastJSONTranscoder

if TYPE_CHECKING:
    from engine.store.postgres import DealflowPostgresRecorder

    DealflowRecorder: TypeAlias = DealflowSQLiteRecorder | DealflowPostgresRecorder

__all__ = ["DealflowApplication", "parse_store_url", "store_env"]

# By topic, not by class: eventsourcing imports the PostgreSQL recorder (and psycopg) only
# for a PostgreSQL store.
_POSTGRES_RECORDER = "engine.store.postgres:DealflowPostgresRecorder"


class DateAsISO(Transcoding):
    """Transcoding for :class:`datetime.date` (e.g. expected close dates)."""

    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        """As ``YYYY-MM-DD``."""
        return obj.isoformat()

    def decode(self, data: str) -> date:
        """From ``YYYY-MM-DD``."""
        return date.fromisoformat(data)


def store_env(url: str, *, busy_timeout: int = 30) -> dict[str, str]:
    """eventsourcing environment for a store URL (see :func:`parse_store_url`); creates the
    SQLite file's folder, so that the store can be created there. ``busy_timeout``: seconds
    a SQLite write waits for another writer's lock."""
    env = parse_store_url(url)
    path = env.get("SQLITE_DBNAME")
    if path is not None:
        env["SQLITE_LOCK_TIMEOUT"] = str(busy_timeout)
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
    return env


def parse_store_url(url: str) -> dict[str, str]:
    """eventsourcing environment for a store URL, without touching anything.

    ``sqlite:///relative.db``, ``sqlite:////absolute.db`` or a bare file path select SQLite;
    ``postgresql://user:password@host:port/dbname`` selects PostgreSQL.
    """
    parts = urlsplit(url)
    scheme = parts.scheme.split("+")[0]
    if scheme in ("", "file") or (len(scheme) == 1 and url[1:3] in (":\\", ":/")):
        return _sqlite_env(url if scheme == "" else parts.path)
    if scheme == "sqlite":
        path = url.split("://", 1)[1]
        path = path[1:] if path.startswith("/") else path
        if not path:
            raise ConfigurationError(f"store URL {url!r}: no SQLite file path")
        return _sqlite_env(path)
    if scheme in ("postgresql", "postgres"):
        if not parts.path.strip("/"):
            raise ConfigurationError(f"store URL {url!r}: no database name")
        return {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "APPLICATION_RECORDER_TOPIC": _POSTGRES_RECORDER,
            "POSTGRES_DBNAME": unquote(parts.path.strip("/")),
            "POSTGRES_HOST": parts.hostname or "127.0.0.1",
            "POSTGRES_PORT": str(parts.port or 5432),
            "POSTGRES_USER": unquote(parts.username or "postgres"),
            "POSTGRES_PASSWORD": unquote(parts.password or ""),
            "POSTGRES_POOL_SIZE": "2",
            "POSTGRES_MAX_OVERFLOW": "4",
            "POSTGRES_LOCK_TIMEOUT": "30",
            "POSTGRES_CONNECT_TIMEOUT": "10",
        }
    raise ConfigurationError(
        f"store URL {url!r}: unsupported scheme {parts.scheme!r} (use sqlite:/// or postgresql://)"
    )


def _sqlite_env(path: str) -> dict[str, str]:
    return {
        "PERSISTENCE_MODULE": "eventsourcing.sqlite",
        "APPLICATION_RECORDER_TOPIC": get_topic(DealflowSQLiteRecorder),
        "SQLITE_DBNAME": path,
        "SQLITE_LOCK_TIMEOUT": "30",
    }


class DealflowApplication(Application[UUID]):
    """The dealflow event store (Deal and Rep aggregates, dealflow's side tables).

    The store knows nothing of the domain: decoding a stored event needs its class
    registered under its fixed stored name, which importing :mod:`engine.domain` does;
    ``bootstrap`` (and every other builder of an application) imports it first.
    """

    name = "dealflow"

    def __init__(self, url: str, *, create_tables: bool = True, busy_timeout: int = 30) -> None:
        """Open the store at ``url``, creating its tables unless ``create_tables`` is False;
        a SQLite write waits ``busy_timeout`` seconds for another writer's lock.

        Several processes starting at once on PostgreSQL may race on the DDL ("tuple
        concurrently updated"); that is retried a few times.
        """
        self.url = url
        env = store_env(url, busy_timeout=busy_timeout)
        if not create_tables:
            env["CREATE_TABLE"] = "false"
        for attempt in range(5):
            try:
                super().__init__(env=env)
                return
            except InternalError:
                if attempt == 4:
                    raise
                time.sleep(0.2 * (attempt + 1))

    def construct_transcoder(self) -> Transcoder:
        """eventsourcing's JSON format, encoded with orjson (see ``FastJSONTranscoder``)."""
        transcoder = FastJSONTranscoder()
        self.register_transcodings(transcoder)
        return transcoder

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        """The stock transcodings plus dates."""
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())

    def append(self, events: Sequence[Any], **rows: Any) -> list[int]:
        """Store ``events`` and dealflow's ``rows`` (see :mod:`engine.store.recorders`) in
        one transaction; return the events' log positions.

        ``events.put`` would also build a ``Recording`` and a ``Notification`` per event,
        and the mapper a ``StoredEvent``, which no caller here reads: each event becomes
        its row (:data:`~engine.store.recorders.EventRow`) directly, with the bytes
        ``Mapper.to_stored_event`` gives (the same state, class version and transcoder).
        A store configured with a compressor or a cipher goes through the mapper.
        """
        mapper = self.mapper
        if mapper.compressor is not None or mapper.cipher is not None:
            stored = [mapper.to_stored_event(e) for e in events]
            return list(self.recorder.insert_events(stored, **rows) or ())
        encode = mapper.transcoder.encode
        event_rows: list[EventRow] = []
        for event in events:
            state = dict(vars(event))  # as Mapper.to_stored_event, step for step
            originator_id = state.pop("originator_id")
            originator_version = state.pop("originator_version")
            cls = type(event)
            class_version = getattr(cls, "class_version", 1)
            if class_version > 1:
                state["class_version"] = class_version
            event_rows.append((originator_id, originator_version, get_topic(cls),
                               encode(state)))
        return self.store.insert_event_rows(event_rows, **rows)

    @property
    def store(self) -> DealflowRecorder:
        """The recorder, with dealflow's extra queries."""
        return cast("DealflowRecorder", self.recorder)

    @property
    def backend(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return "sqlite" if isinstance(self.recorder, DealflowSQLiteRecorder) else "postgresql"
