"""Dead letters: rejected inputs published to the dead-letter topic.

Each dead letter carries the input's original bytes as its value (and its original key and
headers) plus headers saying why and where from::

    dealflow.reason            e.g. invalid:data.amount, stage_jump, conflict
    dealflow.field             the offending field, when there is one
    dealflow.message           the human-readable reason (cut at 1,000 characters)
    dealflow.source.topic      where the input was read
    dealflow.source.partition
    dealflow.source.offset
    dealflow.rejected_at       when it was rejected (UTC, ISO 8601)
    dealflow.truncated         only when the value had to be cut: the original length

:meth:`DeadLetterPublisher.publish` returns only once the broker acknowledged every letter; a
letter the broker refuses as too large goes out again with its value cut (the rejections store
keeps the whole input), anything else raises :class:`DeadLetterError`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from kafka.errors import MessageSizeTooLargeError, RecordListTooLargeError

from engine.errors import DealflowError
from engine.kafka.origin import KafkaOrigin
from engine.store.rows import RejectionRow

__all__ = ["DeadLetter", "DeadLetterError", "DeadLetterPublisher"]

log = logging.getLogger(__name__)

_TOO_LARGE = (MessageSizeTooLargeError, RecordListTooLargeError)
_MAX_MESSAGE_CHARS = 1000
Headers = list[tuple[str, bytes]]


class DeadLetterError(DealflowError):
    """Dead letters could not be published (the caller publishes them again later)."""


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """One rejected input and why it was rejected."""

    raw: bytes
    origin: KafkaOrigin
    reason: str
    message: str
    field: str | None
    rejected_at: str
    key: bytes | None = None
    headers: tuple[tuple[str, bytes], ...] = ()

    @classmethod
    def from_rejection(cls, row: RejectionRow) -> DeadLetter:
        """A dead letter rebuilt from the rejections store (key: the fact's subject)."""
        origin = KafkaOrigin.parse(row.origin)
        if origin is None:
            raise ValueError(f"not a Kafka origin: {row.origin!r}")
        return cls(raw=row.raw, origin=origin, reason=row.reason, message=row.message,
                   field=row.field, rejected_at=row.recorded_at,
                   key=row.subject.encode() if row.subject else None)

    def kafka_headers(self, *, truncated_from: int | None = None) -> Headers:
        """The original headers followed by dealflow's."""
        headers: Headers = [
            *self.headers,
            ("dealflow.reason", self.reason.encode()),
            ("dealflow.message", self.message[:_MAX_MESSAGE_CHARS].encode()),
            ("dealflow.source.topic", self.origin.topic.encode()),
            ("dealflow.source.partition", str(self.origin.partition).encode()),
            ("dealflow.source.offset", str(self.origin.offset).encode()),
            ("dealflow.rejected_at", self.rejected_at.encode()),
        ]
        if self.field is not None:
            headers.append(("dealflow.field", self.field.encode()))
        if truncated_from is not None:
            headers.append(("dealflow.truncated", str(truncated_from).encode()))
        return headers


class DeadLetterPublisher:
    """Publishes dead letters with a producer of its own (acks=all, ordered)."""

    def __init__(self, producer: Any, topic: str, *, max_bytes: int,
                 flush_timeout: float = 60.0) -> None:
        """``producer`` is a ``KafkaProducer``; ``max_bytes`` the cut for refused letters."""
        self.producer = producer
        self.topic = topic
        self.max_bytes = max_bytes
        self.flush_timeout = flush_timeout
        self.published = 0

    def publish(self, letters: Sequence[DeadLetter]) -> None:
        """Send every letter and wait until the broker acknowledged all of them.

        A letter refused as too large is sent again cut to ``max_bytes``, and if that is
        refused too, with an empty value: the dead letter always gets out, its headers naming
        the original length; the rejections store keeps the whole input.
        """
        pending = list(letters)
        for limit in (None, self.max_bytes, 0):
            if not pending:
                break
            sent = [(letter, self._send(letter, limit)) for letter in pending]
            self._flush()
            pending = []
            for letter, future in sent:
                if future is not None and not future.failed():
                    continue
                error = None if future is None else future.exception
                if future is not None and not isinstance(error, _TOO_LARGE):
                    raise DeadLetterError(f"dead letter from {letter.origin} not published: "
                                          f"{error!r}") from error
                pending.append(letter)
        if pending:
            raise DeadLetterError(f"dead letter from {pending[0].origin} refused as too large "
                                  "even without its value")
        self.published += len(letters)

    def _send(self, letter: DeadLetter, limit: int | None) -> Any:
        """The send's future, or None if the producer refused it as too large up front."""
        value, truncated = letter.raw, None
        if limit is not None and len(value) > limit:
            value, truncated = value[:limit], len(letter.raw)
            log.warning("dead letter from %s is too large for the broker (%d bytes); "
                        "publishing its first %d bytes", letter.origin, len(letter.raw), limit)
        try:
            return self.producer.send(self.topic, key=letter.key, value=value,
                                      headers=letter.kafka_headers(truncated_from=truncated))
        except _TOO_LARGE:
            return None
        except Exception as exc:
            raise DeadLetterError(f"dead letter from {letter.origin} not sent: {exc!r}") from exc

    def _flush(self) -> None:
        try:
            self.producer.flush(timeout=self.flush_timeout)
        except Exception as exc:
            raise DeadLetterError(f"dead letters not acknowledged: {exc!r}") from exc
