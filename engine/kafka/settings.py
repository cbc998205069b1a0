"""Kafka settings (environment ``DEALFLOW_KAFKA_*``) and the client configurations built from them.

Parsed once at the edge like :class:`engine.settings.Settings` (which nests them as
``settings.kafka``); the consumer, the relay and the topic admin only read these values.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

__all__ = ["KafkaSettings"]


class KafkaSettings(BaseSettings):
    """Topics, group and client settings of the Kafka consumer, dead letters and relay."""

    model_config = SettingsConfigDict(env_prefix="DEALFLOW_KAFKA_", extra="ignore")

    bootstrap: str = Field(default="127.0.0.1:9092",
                           description="Bootstrap servers, host:port[,host:port...].")
    client_id: str = Field(default="dealflow", description="Client id prefix of every client.")
    topics: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["dealflow.facts"], min_length=1,
        description="Topics of contract facts to consume (comma-separated or a JSON list).")
    group: str = Field(default="dealflow-ingest", min_length=1,
                       description="Consumer group of the ingest workers.")
    dead_letter_topic: str = Field(default="dealflow.facts.dlq",
                                   description="Where rejected inputs are published.")
    events_topic: str = Field(default="dealflow.events",
                              description="Where the relay publishes dealflow's domain events.")

    # --- topics created if missing -----------------------------------------------------------
    create_topics: bool = Field(default=True, description="Create missing topics at start.")
    partitions: int = Field(default=6, ge=1, description="Partitions of the topics created.")
    replication_factor: int = Field(
        default=1, ge=1, description="Replication factor of the topics created (3 in production).")
    topic_check_seconds: float = Field(
        default=10.0, gt=0, description="How often a consumer without partitions of a topic "
        "checks that the topic exists (and recreates it).")

    # --- consumer ----------------------------------------------------------------------------
    max_poll_records: int = Field(default=1000, ge=1, le=50_000,
                                  description="Most records per poll.")
    batch_max_records: int = Field(
        default=5000, ge=1, le=100_000,
        description="Most records in one store transaction (at least max_poll_records): a "
        "worker behind keeps polling while its last batch is stored, up to this many, so "
        "it stores fewer, larger batches; one that keeps up stores each poll at once.")
    poll_timeout_ms: int = Field(default=500, ge=1, description="Longest wait of one poll.")
    session_timeout_ms: int = Field(default=45_000, ge=1000,
                                    description="Group session timeout (a dead worker's "
                                    "partitions move after this long).")
    heartbeat_interval_ms: int = Field(default=3000, ge=100)
    max_poll_interval_ms: int = Field(default=300_000, ge=1000,
                                      description="Longest allowed gap between polls.")
    auto_offset_reset: Literal["earliest", "latest"] = Field(
        default="earliest",
        description="Where to start a partition the store has no offset for.")
    fetch_max_bytes: int = Field(default=52_428_800, ge=1024)
    max_partition_fetch_bytes: int = Field(default=1_048_576, ge=1024)
    metadata_max_age_ms: int = Field(default=30_000, ge=100)
    request_timeout_ms: int = Field(default=30_000, ge=1000)
    reconnect_backoff_max_ms: int = Field(default=5000, ge=50)
    bootstrap_timeout_ms: int = Field(
        default=2500, ge=100,
        description="How long a client waits for a first answer from the bootstrap servers. "
        "A one-shot `relay --until-idle` then stops (exit 3, naming the servers and why); "
        "`consume`, `relay` and `serve` log it and try again.")
    check_crcs: bool = Field(
        default=True, description="Verify each fetched batch's CRC32C. kafka-python does it in "
        "pure Python unless the crc32c package is installed (kafka-python[crc32c]); turning "
        "it off trades that check for about a quarter more consumer throughput.")
    beyond_end_grace_seconds: float = Field(
        default=3.0, gt=0, description="How long a position may stay beyond the fetched log "
        "end before the partition is treated as recreated and read from its start.")

    # --- producers (dead letters and relay) --------------------------------------------------
    acks: Literal["all", "1", "0"] = Field(default="all")
    enable_idempotence: bool = Field(default=True)
    linger_ms: int = Field(default=5, ge=0)
    producer_batch_size: int = Field(default=262_144, ge=1024)
    compression_type: Literal["gzip", "snappy", "lz4", "zstd"] | None = None
    max_request_size: int = Field(default=8_388_608, ge=1024,
                                  description="Largest produce request the client sends.")
    delivery_timeout_ms: int = Field(default=120_000, ge=1000)
    dead_letter_max_bytes: int = Field(
        default=900_000, ge=1024, description="A dead letter the broker refuses as too large "
        "is published again with its value cut to this many bytes (header "
        "dealflow.truncated); the rejections store keeps the whole input.")

    # --- relay -------------------------------------------------------------------------------
    relay_batch_size: int = Field(default=2000, ge=1, le=100_000,
                                  description="Events read from the log per query.")
    relay_max_in_flight: int = Field(default=20_000, ge=1,
                                     description="Events sent but not yet acknowledged.")
    relay_idle_ms: int = Field(default=200, ge=1, description="Wait when the log has no more.")
    relay_commit_ms: int = Field(default=500, ge=0,
                                 description="Longest delay before the acked position is saved.")
    relay_prepare_process: Literal["auto", "always", "never"] = Field(
        default="auto", description="Read, decode, key and encode the relay's messages in a "
        "child process, overlapping kafka-python's own work on another core (costs more CPU "
        "in all); auto: only when two cores sit idle as the relay starts.")

    client_options: dict[str, Any] = Field(
        default_factory=dict,
        description="Extra kafka-python options for every client (security_protocol, "
        "sasl_mechanism, sasl_plain_username, ssl_cafile, ...), as JSON in the environment.")

    @field_validator("topics", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        if isinstance(value, str):
            if value.lstrip().startswith("["):
                return json.loads(value)
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    # ------------------------------------------------------------------ client configs
    def _common(self, role: str) -> dict[str, Any]:
        return {
            "bootstrap_servers": self.bootstrap.split(","),
            "client_id": f"{self.client_id}-{role}",
            "request_timeout_ms": self.request_timeout_ms,
            "reconnect_backoff_max_ms": self.reconnect_backoff_max_ms,
            "bootstrap_timeout_ms": self.bootstrap_timeout_ms,
            "metadata_max_age_ms": self.metadata_max_age_ms,
            **self.client_options,
        }

    def consumer_config(self) -> dict[str, Any]:
        """KafkaConsumer options: manual commits, no topic auto-creation."""
        return {
            **self._common("consumer"),
            "group_id": self.group,
            "enable_auto_commit": False,
            "auto_offset_reset": self.auto_offset_reset,
            "allow_auto_create_topics": False,
            "max_poll_records": self.max_poll_records,
            "session_timeout_ms": self.session_timeout_ms,
            "heartbeat_interval_ms": self.heartbeat_interval_ms,
            "max_poll_interval_ms": self.max_poll_interval_ms,
            "fetch_max_bytes": self.fetch_max_bytes,
            "max_partition_fetch_bytes": self.max_partition_fetch_bytes,
            "check_crcs": self.check_crcs,
        }

    def producer_config(self, role: str) -> dict[str, Any]:
        """KafkaProducer options: acks=all, one request in flight (order), idempotence."""
        return {
            **self._common(role),
            "acks": self.acks if self.acks == "all" else int(self.acks),
            "enable_idempotence": self.enable_idempotence and self.acks == "all",
            "max_in_flight_requests_per_connection": 1,
            "linger_ms": self.linger_ms,
            "batch_size": self.producer_batch_size,
            "compression_type": self.compression_type,
            "max_request_size": self.max_request_size,
            "delivery_timeout_ms": self.delivery_timeout_ms,
            "allow_auto_create_topics": False,
        }

    def admin_config(self) -> dict[str, Any]:
        """KafkaAdminClient options."""
        common = self._common("admin")
        common.pop("metadata_max_age_ms")
        return common
