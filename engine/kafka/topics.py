"""Topic administration: create missing topics with the configured partition count, and read
topic ids (which change when a topic is deleted and created again)."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from kafka import KafkaAdminClient
from kafka.errors import TopicAlreadyExistsError, for_code
from kafka.net.compat import KafkaNetClient

from engine.kafka.settings import KafkaSettings

__all__ = ["TopicAdmin"]

log = logging.getLogger(__name__)

_NO_TOPIC_ID = {"", "00000000-0000-0000-0000-000000000000", "AAAAAAAAAAAAAAAAAAAAAA"}


class TopicAdmin:
    """A small wrapper over ``KafkaAdminClient`` for dealflow's topics; connects lazily."""

    def __init__(self, settings: KafkaSettings) -> None:
        """Nothing connects until the first call."""
        self.settings = settings
        self._client: Any = None

    @property
    def client(self) -> Any:
        """The admin client (connecting now if needed; raises if no broker answers)."""
        if self._client is None:
            made: list[Any] = []

            def tracked(**configs: Any) -> Any:
                made.append(client := KafkaNetClient(**configs))
                return client

            try:
                self._client = KafkaAdminClient(**self.settings.admin_config(),
                                                kafka_client=tracked)
            except BaseException:
                # kafka-python starts the network client's IO thread before bootstrapping
                # and leaves it running when bootstrapping fails: one leaked thread per
                # retry of a service waiting for its broker.
                for client in made:
                    client.close()
                raise
        return self._client

    def ensure(self, topics: Iterable[str]) -> list[str]:
        """Create the missing ones among ``topics``; return the names created."""
        wanted = list(dict.fromkeys(topics))
        existing = set(self.client.list_topics())
        missing = [t for t in wanted if t not in existing]
        if not missing:
            return []
        spec = {t: {"num_partitions": self.settings.partitions,
                    "replication_factor": self.settings.replication_factor} for t in missing}
        result = self.client.create_topics(spec, raise_errors=False)
        created = []
        for topic in result.get("topics", []):
            error = for_code(topic.get("error_code", 0))
            if topic.get("error_code", 0) == 0:
                created.append(topic["name"])
            elif error is not TopicAlreadyExistsError:  # a concurrent worker won the race
                raise error(f"cannot create topic {topic['name']!r}: "
                            f"{topic.get('error_message')}")
        if created:
            self.client.wait_for_topics(created)
            log.info("created topics %s with %d partitions", ", ".join(created),
                     self.settings.partitions)
        return created

    def topic_ids(self, topics: Iterable[str]) -> dict[str, str | None]:
        """Each existing topic's id (None where the broker has no topic ids, before 2.8)."""
        found: dict[str, str | None] = {}
        for topic in self.client.describe_topics(list(topics)):
            if topic.get("error_code", 0) != 0:
                continue
            topic_id = topic.get("topic_id")
            text = None if topic_id is None else str(topic_id)
            found[topic["name"]] = None if text in _NO_TOPIC_ID else text
        return found

    def close(self) -> None:
        """Disconnect (no-op if never connected)."""
        if self._client is not None:
            self._client.close()
            self._client = None
