"""Kafka settings: environment, nesting in the engine's settings, client configurations."""

from __future__ import annotations

import pytest

from engine.kafka.settings import KafkaSettings
from engine.settings import Settings


def test_settings_come_from_the_environment_and_nest_in_the_engine_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DEALFLOW_KAFKA_BOOTSTRAP", "127.0.0.1:9093")
    monkeypatch.setenv("DEALFLOW_KAFKA_TOPICS", "facts.a, facts.b")
    monkeypatch.setenv("DEALFLOW_KAFKA_GROUP", "workers")
    monkeypatch.setenv("DEALFLOW_KAFKA_PARTITIONS", "12")
    monkeypatch.setenv("DEALFLOW_KAFKA_CLIENT_OPTIONS", '{"security_protocol": "SSL"}')
    kafka = Settings().kafka
    assert (kafka.bootstrap, kafka.topics, kafka.group, kafka.partitions) == (
        "127.0.0.1:9093", ["facts.a", "facts.b"], "workers", 12)
    assert kafka.consumer_config()["security_protocol"] == "SSL"
    assert KafkaSettings(topics='["x"]').topics == ["x"]


def test_the_consumer_commits_manually_and_never_creates_topics() -> None:
    config = KafkaSettings(group="g", max_poll_records=50).consumer_config()
    assert config["enable_auto_commit"] is False
    assert config["allow_auto_create_topics"] is False
    assert (config["group_id"], config["max_poll_records"]) == ("g", 50)


def test_producers_wait_for_all_replicas_and_keep_order() -> None:
    config = KafkaSettings().producer_config("relay")
    assert config["acks"] == "all"
    assert config["enable_idempotence"] is True
    assert config["max_in_flight_requests_per_connection"] == 1
    assert KafkaSettings(acks="1").producer_config("x")["enable_idempotence"] is False


def test_bad_values_are_refused() -> None:
    with pytest.raises(ValueError, match="partitions"):
        KafkaSettings(partitions=0)
    with pytest.raises(ValueError, match="topics"):
        KafkaSettings(topics=[])
