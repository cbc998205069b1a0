"""Test infrastructure: real PostgreSQL and Kafka-protocol servers for the suite.

The pytest fixtures live in ``tests/conftest.py``; this package holds the machinery they use,
importable as ``tests.infra``.
"""

from .broker import (
    BrokerUnavailable,
    TansuBroker,
    broker_binary,
    detached_kafka_log_records,
    kafka_ready,
)
from .common import LOOPBACK, free_loopback_port, is_ci, port_accepts, stop_process
from .postgres import (
    DB_PREFIX,
    DEFAULT_URL,
    ENV_VAR,
    EmbeddedPostgres,
    PostgresTarget,
    PostgresUnavailable,
    acquire_postgres,
    configured_url,
    create_database,
    drop_database,
    probe,
    with_database,
)

__all__ = [
    "DB_PREFIX",
    "DEFAULT_URL",
    "ENV_VAR",
    "LOOPBACK",
    "BrokerUnavailable",
    "EmbeddedPostgres",
    "PostgresTarget",
    "PostgresUnavailable",
    "TansuBroker",
    "acquire_postgres",
    "broker_binary",
    "configured_url",
    "create_database",
    "detached_kafka_log_records",
    "drop_database",
    "free_loopback_port",
    "is_ci",
    "kafka_ready",
    "port_accepts",
    "probe",
    "stop_process",
    "with_database",
]
