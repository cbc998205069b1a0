"""Whether a broker can answer, and if not why: one plain TCP probe per bootstrap server.

kafka-python says only "Unable to bootstrap from [...]" once ``bootstrap_timeout_ms`` has
passed, after a page of connection warnings; an operator needs the cause in one line
(``127.0.0.1:9092: connection refused``). A one-shot command probes first (no server
accepting a TCP connection is the end, at once and quietly); a client that still failed to
bootstrap names the causes the same way.
"""

from __future__ import annotations

import errno
import socket

from kafka.errors import KafkaTimeoutError

from engine.errors import BrokerUnreachableError

__all__ = ["PROBE_TIMEOUT", "check_reachable", "is_bootstrap_failure", "probe_server",
           "unreachable"]

#: Seconds one TCP probe waits for a server.
PROBE_TIMEOUT = 1.0
_ACCEPTS = "accepts TCP connections"


def _split(server: str) -> tuple[str, int]:
    host, _, port = server.strip().rpartition(":")
    if not host:  # no port given: Kafka's default
        return server.strip().strip("[]"), 9092
    return host.strip("[]"), int(port)


def probe_server(server: str, timeout: float = PROBE_TIMEOUT) -> str:
    """What a TCP connection to ``server`` (``host:port``) finds, in a few words."""
    try:
        host, port = _split(server)
    except ValueError:
        return "not a host:port"
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return _ACCEPTS
    except socket.gaierror:
        return "unknown host"
    except TimeoutError:
        return f"no answer within {timeout:g}s"
    except OSError as exc:
        if exc.errno == errno.ECONNREFUSED:
            return "connection refused"
        return exc.strerror or type(exc).__name__


def _servers(bootstrap: str) -> list[str]:
    return [s.strip() for s in bootstrap.split(",") if s.strip()]


def check_reachable(bootstrap: str, timeout: float = PROBE_TIMEOUT) -> None:
    """Raise :class:`BrokerUnreachableError` if none of the bootstrap servers accepts a TCP
    connection within ``timeout`` seconds (each)."""
    found = {server: probe_server(server, timeout) for server in _servers(bootstrap)}
    if _ACCEPTS not in found.values():
        causes = "; ".join(f"{server}: {cause}" for server, cause in found.items())
        raise BrokerUnreachableError(f"cannot reach a Kafka broker at {bootstrap} ({causes})")


def is_bootstrap_failure(exc: BaseException) -> bool:
    """Whether kafka-python raised ``exc`` because no bootstrap server answered (rather
    than, say, a request timing out on a broker it reached)."""
    return isinstance(exc, KafkaTimeoutError) and "Unable to bootstrap" in str(exc)


def unreachable(bootstrap: str, waited_ms: int) -> BrokerUnreachableError:
    """The error for bootstrap servers none of which answered as a broker in ``waited_ms``."""
    causes = []
    for server in _servers(bootstrap):
        cause = probe_server(server)
        if cause == _ACCEPTS:
            cause += (" but did not answer as a Kafka broker (a TLS or SASL listener? see "
                      "DEALFLOW_KAFKA_CLIENT_OPTIONS)")
        causes.append(f"{server}: {cause}")
    return BrokerUnreachableError(f"no Kafka broker answered at {bootstrap} within "
                                  f"{waited_ms / 1000:g}s ({'; '.join(causes)})")
