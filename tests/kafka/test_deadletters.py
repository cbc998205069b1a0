"""Dead letters: headers, origins, and what happens when the broker refuses one."""

from __future__ import annotations

from typing import Any

import pytest
from kafka.errors import KafkaTimeoutError, MessageSizeTooLargeError

from engine.kafka.deadletters import DeadLetter, DeadLetterError, DeadLetterPublisher
from engine.kafka.origin import KafkaOrigin
from engine.store.rows import RejectionRow


class FakeFuture:
    """What ``KafkaProducer.send`` returns, already resolved."""

    def __init__(self, exception: Exception | None = None) -> None:
        self.is_done = True
        self.exception = exception

    def failed(self) -> bool:
        return self.exception is not None


class FakeProducer:
    """A producer that refuses values over ``limit`` bytes (``up_front``: in ``send``)."""

    def __init__(self, limit: int = 1_000_000, *, up_front: bool = False,
                 error: Exception | None = None) -> None:
        self.limit, self.up_front, self.error = limit, up_front, error
        self.sent: list[dict[str, Any]] = []

    def send(self, topic: str, *, key: bytes | None, value: bytes,
             headers: list[tuple[str, bytes]]) -> FakeFuture:
        if len(value) > self.limit:
            if self.up_front:
                raise MessageSizeTooLargeError("too large")
            return FakeFuture(MessageSizeTooLargeError("too large"))
        if self.error is not None:
            return FakeFuture(self.error)
        self.sent.append({"topic": topic, "key": key, "value": value, "headers": dict(headers)})
        return FakeFuture()

    def flush(self, timeout: float | None = None) -> None:
        """Everything is resolved at once."""


def letter(raw: bytes = b"not json", **overrides: Any) -> DeadLetter:
    values: dict[str, Any] = {
        "raw": raw, "origin": KafkaOrigin("facts", 2, 41), "reason": "invalid:(body)",
        "message": "not JSON: Expecting value", "field": "(body)",
        "rejected_at": "2026-01-05T02:00:00+00:00", "key": b"D-1",
        "headers": (("trace", b"abc"),),
    }
    values.update(overrides)
    return DeadLetter(**values)


def test_a_dead_letter_carries_the_original_bytes_and_why_and_where_from() -> None:
    producer = FakeProducer()
    DeadLetterPublisher(producer, "facts.dlq", max_bytes=100).publish([letter()])
    [sent] = producer.sent
    assert (sent["topic"], sent["key"], sent["value"]) == ("facts.dlq", b"D-1", b"not json")
    assert sent["headers"] == {
        "trace": b"abc",
        "dealflow.reason": b"invalid:(body)",
        "dealflow.field": b"(body)",
        "dealflow.message": b"not JSON: Expecting value",
        "dealflow.source.topic": b"facts",
        "dealflow.source.partition": b"2",
        "dealflow.source.offset": b"41",
        "dealflow.rejected_at": b"2026-01-05T02:00:00+00:00",
    }


@pytest.mark.parametrize("up_front", [True, False])
def test_a_letter_too_large_for_the_broker_goes_out_cut(up_front: bool) -> None:
    producer = FakeProducer(limit=1000, up_front=up_front)
    DeadLetterPublisher(producer, "dlq", max_bytes=1000).publish([letter(b"x" * 5000), letter()])
    cut = next(s for s in producer.sent if s["headers"].get("dealflow.truncated"))
    assert cut["value"] == b"x" * 1000 and cut["headers"]["dealflow.truncated"] == b"5000"
    assert len(producer.sent) == 2


def test_when_even_the_cut_letter_is_refused_it_goes_out_empty() -> None:
    producer = FakeProducer(limit=10)
    DeadLetterPublisher(producer, "dlq", max_bytes=500).publish([letter(b"y" * 800)])
    [sent] = producer.sent
    assert sent["value"] == b"" and sent["headers"]["dealflow.truncated"] == b"800"


def test_other_failures_raise_so_the_worker_publishes_again() -> None:
    producer = FakeProducer(error=KafkaTimeoutError("no broker"))
    with pytest.raises(DeadLetterError, match="facts:2:41"):
        DeadLetterPublisher(producer, "dlq", max_bytes=500).publish([letter()])


def test_a_letter_rebuilt_from_the_rejections_store() -> None:
    row = RejectionRow(recorded_at="2026-01-05T02:00:00+00:00", origin="kafka:a.b-c:7:1234",
                       reason="stage_jump", field=None, message="stage_jump: ...",
                       source="crm", fact_id="f-1", fact_type="deal.stage_changed",
                       subject="D-9", raw=b"{}")
    rebuilt = DeadLetter.from_rejection(row)
    assert (rebuilt.origin, rebuilt.key, rebuilt.reason) == (
        KafkaOrigin("a.b-c", 7, 1234), b"D-9", "stage_jump")
    assert "dealflow.field" not in dict(rebuilt.kafka_headers())


def test_origins_round_trip() -> None:
    origin = KafkaOrigin("facts.v1", 3, 99)
    assert str(origin) == "kafka:facts.v1:3:99"
    assert KafkaOrigin.parse(str(origin)) == origin
    assert KafkaOrigin.parse("file.jsonl:12") is None
    assert KafkaOrigin.parse("kafka:broken") is None
