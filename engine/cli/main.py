"""The ``dealflow`` command line: one Typer app, one sub-module per command group.

Importing it is cheap (typer, rich and the command modules, which import what they run in
their bodies): ``dealflow --help`` and ``--version`` load no store, server or Kafka code.
"""

from __future__ import annotations

from typing import Annotated

import typer

from engine.cli import (
    audit_cmd,
    backup_cmd,
    common,
    demo_cmd,
    ingest_cmd,
    kafka_cmd,
    serve_cmd,
    sla_cmd,
    token_cmd,
    views_cmd,
    workflow_cmd,
)

__all__ = ["app", "main"]

app = typer.Typer(
    name="dealflow",
    no_args_is_help=True,
    add_completion=False,
)


def _print_version(wanted: bool) -> None:
    if wanted:
        from importlib.metadata import version

        typer.echo(f"dealflow {version('dealflow')}")
        raise typer.Exit()


@app.callback()
def dealflow(
    version: Annotated[bool, typer.Option(
        "--version", help="Print dealflow's version and exit.", callback=_print_version,
        is_eager=True)] = False,
) -> None:
    """dealflow: an event-sourced sales-process engine."""


app.add_typer(workflow_cmd.app, name="workflow")
app.add_typer(audit_cmd.app, name="audit")
app.add_typer(token_cmd.app, name="token")
app.add_typer(sla_cmd.app, name="sla")
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
app.command()(backup_cmd.backup)
app.command()(backup_cmd.restore)


def main() -> None:
    """Console-script entry point."""
    # Modules and definitions are never garbage: out of the GC's sight once the command has
    # imported and built them (start-up is lazy, so not before).
    common.freeze_when_started()
    app()
