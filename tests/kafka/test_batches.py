"""A polled batch into the store: offsets with the events, a poison input isolated."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import pytest
from eventsourcing.persistence import OperationalError

from engine.bootstrap import Engine
from engine.contract.envelope import Fact
from engine.ingest.batch import BatchResult, Ingestor, RawInput
from engine.ingest.parsing import parse_chunk
from engine.kafka.batches import UNPROCESSABLE, is_input_error, store_batch
from engine.store.recorders import KafkaOffset
from tests.engine.facts import STANDARD_PATH, fact, opened, raw


class Record(NamedTuple):
    """The parts of a kafka-python ``ConsumerRecord`` the batch uses."""

    topic: str
    partition: int
    offset: int
    value: bytes | None


class TrippingIngestor(Ingestor):
    """An ingestor that fails like a bug would on inputs containing ``boom``."""

    error: Exception = TypeError("unsupported operand")

    def ingest(self, inputs: Sequence[RawInput], *, offsets: Sequence[KafkaOffset] = (),
               parsed: Sequence[Fact | None] | None = None) -> BatchResult:
        if any(b"boom" in item.raw for item in inputs):
            raise self.error
        return super().ingest(inputs, offsets=offsets, parsed=parsed)


def records(*values: bytes | None, partition: int = 0) -> list[Record]:
    return [Record("facts", partition, offset, v) for offset, v in enumerate(values)]


def test_a_batch_commits_its_offsets_with_its_events(engine: Engine) -> None:
    kind, data = STANDARD_PATH[0]
    batch = records(raw(opened("D-1")), raw(fact(kind, "D-1", data)), None)
    outcomes = store_batch(engine.ingestor, "g", batch, [("g#dl", "facts", 0, 0)])
    assert [o.status for o in outcomes] == ["accepted", "accepted", "rejected"]
    assert engine.app.store.committed_offsets("g", "facts") == {0: 3}
    assert engine.app.store.committed_offsets("g#dl", "facts") == {0: 0}
    [row] = engine.app.store.select_rejections()
    assert (row.origin, row.raw) == ("kafka:facts:0:2", b"")


@pytest.mark.parametrize("parsed_ahead", [False, True], ids=["parsed-here", "parsed-ahead"])
def test_an_input_that_trips_the_engine_is_isolated_and_stored_as_a_rejection(
    engine: Engine, parsed_ahead: bool
) -> None:
    ingestor = TrippingIngestor(engine.app, engine.workflows, routing=engine.definitions.routing)
    batch = records(raw(opened("D-1")), b'{"boom": 1}', raw(opened("D-2")),
                    raw(opened("D-3")), partition=4)
    # The consumer parses a batch ahead, while the one before is decided: the halves of a
    # failed batch keep each record's own fact.
    parsed = parse_chunk([r.value or b"" for r in batch], ingestor.limits) \
        if parsed_ahead else None
    outcomes = store_batch(ingestor, "g", batch, (), parsed)
    assert [(o.status, o.reason) for o in outcomes] == [
        ("accepted", None), ("rejected", UNPROCESSABLE), ("accepted", None), ("accepted", None)]
    assert engine.app.store.committed_offsets("g", "facts") == {4: 4}
    [row] = engine.app.store.select_rejections()
    assert (row.origin, row.reason, row.raw) == ("kafka:facts:4:1", UNPROCESSABLE,
                                                 b'{"boom": 1}')
    assert "TypeError" in row.message
    assert engine.app.store.counters() == {"accepted": 3, "rejected": 1}


def test_a_store_failure_is_not_blamed_on_an_input(engine: Engine) -> None:
    ingestor = TrippingIngestor(engine.app, engine.workflows, routing=engine.definitions.routing)
    ingestor.error = OperationalError("connection lost")
    with pytest.raises(OperationalError):
        store_batch(ingestor, "g", records(raw(opened("D-1")), b"boom"))
    assert engine.app.store.committed_offsets("g", "facts") == {}
    assert engine.app.store.select_rejections() == []


def test_which_errors_an_input_can_cause() -> None:
    assert is_input_error(TypeError("x"))
    assert is_input_error(RecursionError())
    assert not is_input_error(OperationalError("down"))
    assert not is_input_error(OSError("disk"))


def test_a_value_the_database_refuses_only_costs_its_own_input(engine: Engine) -> None:
    # No store keeps NUL in text: the contract parser refuses it, naming the field, so it
    # costs only its own input on both backends.
    batch = records(raw(opened("D-1")), raw(opened("D\u0000X")), raw(opened("D-2")))
    outcomes = store_batch(engine.ingestor, "g", batch)
    assert [o.status for o in outcomes][::2] == ["accepted", "accepted"]
    assert (outcomes[1].status, outcomes[1].reason) == ("rejected", "invalid:subject")
    assert engine.app.store.committed_offsets("g", "facts") == {0: 3}
