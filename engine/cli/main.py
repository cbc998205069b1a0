"""The ``dealflow`` command line: one Typer app, one sub-module per command group."""

from __future__ import annotations

import typer

from engine.cli import (
    audit_cmd,
    demo_cmd,
    ingest_cmd,
    kafka_cmd,
    serve_cmd,
    token_cmd,
    views_cmd,
    workflow_cmd,
)

app = typer.Typer(
    name="dealflow",
    help="dealflow: an event-sourced sales-process engine.",
    no_args_is_help=True,
    add_completion=False,
)
app.add_typer(workflow_cmd.app, name="workflow")
app.add_typer(audit_cmd.app, name="audit")
app.add_typer(token_cmd.app, name="token")
app.command()(demo_cmd.demo)
app.command()(ingest_cmd.ingest)
app.command()(ingest_cmd.rejects)
app.command()(views_cmd.rebuild)
app.command()(views_cmd.report)
app.command()(views_cmd.views)
app.command()(serve_cmd.serve)
app.command()(kafka_cmd.consume)
app.command()(kafka_cmd.relay)
app.command(name="kafka-topics")(kafka_cmd.kafka_topics)


def main() -> None:
    """Console-script entry point."""
    from engine.store.gc import freeze_startup

    freeze_startup()  # modules and definitions are never garbage: out of the GC's sight
    app()
