"""``dealflow consume``, ``dealflow relay`` and ``dealflow kafka-topics``."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from engine.cli.common import DbOption, console, open_engine
from engine.cli.output import EXIT_UNREACHABLE
from engine.errors import BrokerUnreachableError, DealflowError

if TYPE_CHECKING:
    from engine.kafka.settings import KafkaSettings

__all__ = ["consume", "kafka_topics", "relay"]

KafkaOption = Annotated[str | None, typer.Option(
    "--kafka", help="Kafka bootstrap servers HOST:PORT[,...] "
    "\\[default: $DEALFLOW_KAFKA_BOOTSTRAP or 127.0.0.1:9092]", show_default=False)]
PartitionsOption = Annotated[int | None, typer.Option(
    help="Partitions of topics created if missing \\[default: 6]", show_default=False, min=1)]
QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="Log warnings only.")]


def _kafka_settings(**overrides: Any) -> KafkaSettings:
    """Environment (``DEALFLOW_KAFKA_*``) with the given CLI overrides."""
    from engine.kafka.settings import KafkaSettings

    values = {k: v for k, v in overrides.items() if v not in (None, [], ())}
    try:
        return KafkaSettings(**values)
    except ValueError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc


def _logging(quiet: bool) -> None:
    logging.basicConfig(level=logging.WARNING if quiet else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("kafka").setLevel(logging.ERROR if quiet else logging.WARNING)


@contextmanager
def _stop_on_signals(then: Callable[[], None] | None = None) -> Iterator[threading.Event]:
    """An event set by SIGINT or SIGTERM (the current batch finishes first); ``then`` is
    called too."""
    stop = threading.Event()
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}

    def handler(_signum: int, _frame: Any) -> None:
        stop.set()
        if then is not None:
            then()

    for sig in previous:
        signal.signal(sig, handler)
    try:
        yield stop
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def consume(
    kafka: KafkaOption = None,
    db: DbOption = None,
    topic: Annotated[list[str] | None, typer.Option(
        "--topic", help="Topic of contract facts (repeat for several) "
        "\\[default: dealflow.facts]", show_default=False)] = None,
    group: Annotated[str | None, typer.Option(
        help="Consumer group \\[default: dealflow-ingest]", show_default=False)] = None,
    dead_letter_topic: Annotated[str | None, typer.Option(
        help="Dead-letter topic \\[default: dealflow.facts.dlq]", show_default=False)] = None,
    batch_size: Annotated[int | None, typer.Option(
        help="Most records per poll \\[default: 1000]; a worker that is behind "
        "stores up to DEALFLOW_KAFKA_BATCH_MAX_RECORDS (5000) in one transaction",
        show_default=False, min=1)] = None,
    partitions: PartitionsOption = None,
    quiet: QuietOption = False,
) -> None:
    """Consume contract facts from Kafka into the store until SIGINT/SIGTERM.

    Run several with the same --group (on PostgreSQL) to share the partitions. Each batch
    (one poll, or several polled while the batch before was stored) is stored as one
    transaction together with the consumed offsets (exactly-once effect); rejected inputs
    go to the rejections store and the dead-letter topic.
    """
    from engine.kafka.consumer import KafkaIngestWorker

    _logging(quiet)
    settings = _kafka_settings(bootstrap=kafka, topics=topic, group=group,
                               dead_letter_topic=dead_letter_topic,
                               max_poll_records=batch_size, partitions=partitions)
    with open_engine(db, create=True, probe=False) as engine, _stop_on_signals() as stop:
        stats = KafkaIngestWorker(engine, settings, stop=stop).run()
    console.print(f"consumed {stats.records:,} records in {stats.batches:,} batches: "
                  f"{stats.accepted:,} accepted, {stats.duplicates:,} duplicates, "
                  f"{stats.rejected:,} rejected ({stats.dead_letters:,} dead letters)")


def relay(
    kafka: KafkaOption = None,
    db: DbOption = None,
    topic: Annotated[str | None, typer.Option(
        "--topic", help="Topic of dealflow's domain events \\[default: dealflow.events]",
        show_default=False)] = None,
    batch_size: Annotated[int | None, typer.Option(
        help="Events read from the log per query \\[default: 2000]", show_default=False,
        min=1)] = None,
    until_idle: Annotated[bool, typer.Option(
        "--until-idle", help="Exit once every stored event is published.")] = False,
    partitions: PartitionsOption = None,
    quiet: QuietOption = False,
) -> None:
    """Publish every domain event, in log order, to Kafka (the outbox relay).

    Only one relay runs per store (a second one stands by); it resumes from its saved
    position after a restart.
    """
    _logging(quiet)
    settings = _kafka_settings(bootstrap=kafka, events_topic=topic,
                               relay_batch_size=batch_size, partitions=partitions)
    with open_engine(db, create=True, probe=False) as engine:
        relay = engine.relay(settings)
        try:
            with _stop_on_signals(relay.follower.request_stop):
                stats = relay.run(until_idle=until_idle)
        except BrokerUnreachableError as exc:  # a one-shot run (--until-idle) stops
            console.print(f"[red]error:[/red] {escape(str(exc))}", soft_wrap=True)
            raise typer.Exit(EXIT_UNREACHABLE) from None
        except DealflowError as exc:
            console.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(1) from exc
    console.print(f"published {stats.published:,} events; position {stats.position:,}")


def kafka_topics(
    kafka: KafkaOption = None,
    partitions: PartitionsOption = None,
    replication_factor: Annotated[int | None, typer.Option(
        help="Replication factor \\[default: 1]", show_default=False, min=1)] = None,
) -> None:
    """Create dealflow's topics (facts, dead letters, events) if they are missing."""
    from engine.kafka.topics import TopicAdmin

    settings = _kafka_settings(bootstrap=kafka, partitions=partitions,
                               replication_factor=replication_factor)
    admin = TopicAdmin(settings)
    try:
        created = admin.ensure([*settings.topics, settings.dead_letter_topic,
                                settings.events_topic])
    finally:
        admin.close()
    console.print(f"created: {', '.join(created)}" if created else "all topics exist")
