"""Where a Kafka input came from, as the ``origin`` text stored with every rejection."""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["KafkaOrigin"]

_PREFIX = "kafka:"


class KafkaOrigin(NamedTuple):
    """A record's position: ``kafka:<topic>:<partition>:<offset>`` as text.

    Topic names cannot contain ``:``, so the text parses back unambiguously.
    """

    topic: str
    partition: int
    offset: int

    def __str__(self) -> str:
        return f"{_PREFIX}{self.topic}:{self.partition}:{self.offset}"

    @classmethod
    def parse(cls, text: str) -> KafkaOrigin | None:
        """The position named by ``text``, or None if it is not a Kafka origin."""
        if not text.startswith(_PREFIX):
            return None
        try:
            topic, partition, offset = text[len(_PREFIX):].rsplit(":", 2)
            return cls(topic, int(partition), int(offset))
        except ValueError:
            return None
