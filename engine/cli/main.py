"""The ``dealflow`` command line: one Typer app, one sub-module per command group.

Importing it is cheap (typer and rich, no command module): a command's module is imported
when that command runs or its help is shown (:data:`COMMANDS`), so that ``dealflow
ingest`` does not import, nor have Typer build, the fifteen other commands; the command
modules import what they run in their bodies, so ``dealflow --help`` and ``--version``
load no store, server or Kafka code.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, MutableMapping
from importlib import import_module
from typing import Annotated, Any

import typer
import typer.main
from typer.core import TyperGroup

from engine.cli import common

__all__ = ["COMMANDS", "app", "main"]

#: Every command, in the order ``dealflow --help`` lists them: its module and the function
#: there (a command) or the Typer app (a group of subcommands).
COMMANDS: Mapping[str, tuple[str, str]] = {
    "demo": ("engine.cli.demo_cmd", "demo"),
    "ingest": ("engine.cli.ingest_cmd", "ingest"),
    "rejects": ("engine.cli.ingest_cmd", "rejects"),
    "rebuild": ("engine.cli.views_cmd", "rebuild"),
    "report": ("engine.cli.views_cmd", "report"),
    "views": ("engine.cli.views_cmd", "views"),
    "serve": ("engine.cli.serve_cmd", "serve"),
    "consume": ("engine.cli.kafka_cmd", "consume"),
    "relay": ("engine.cli.kafka_cmd", "relay"),
    "kafka-topics": ("engine.cli.kafka_cmd", "kafka_topics"),
    "backup": ("engine.cli.backup_cmd", "backup"),
    "restore": ("engine.cli.backup_cmd", "restore"),
    "workflow": ("engine.cli.workflow_cmd", "app"),
    "audit": ("engine.cli.audit_cmd", "app"),
    "token": ("engine.cli.token_cmd", "app"),
    "sla": ("engine.cli.sla_cmd", "app"),
}


def build_command(name: str) -> Any:
    """The click command Typer builds for :data:`COMMANDS`' ``name``, exactly as for a
    command registered on the app (``app.command(name=...)`` or ``app.add_typer``)."""
    module, attribute = COMMANDS[name]
    target = getattr(import_module(module), attribute)
    holder = typer.Typer(add_completion=False)
    if isinstance(target, typer.Typer):
        holder.add_typer(target, name=name)
    else:
        holder.command(name=name)(target)
    return typer.main.get_group(holder).commands[name]


class _Commands(MutableMapping[str, Any]):
    """The group's commands by name: every name is known at once, a command is built on
    first access (listing the names builds none)."""

    def __init__(self) -> None:
        self._built: dict[str, Any] = {}
        self._extra: dict[str, Any] = {}

    def __getitem__(self, name: str) -> Any:
        if name in self._extra:
            return self._extra[name]
        if name not in COMMANDS:
            raise KeyError(name)
        if name not in self._built:
            self._built[name] = build_command(name)
        return self._built[name]

    def __setitem__(self, name: str, command: Any) -> None:
        self._extra[name] = command

    def __delitem__(self, name: str) -> None:
        del self._extra[name]

    def __iter__(self) -> Iterator[str]:
        yield from COMMANDS
        yield from (name for name in self._extra if name not in COMMANDS)

    def __len__(self) -> int:
        return len(COMMANDS) + sum(1 for name in self._extra if name not in COMMANDS)


class LazyGroup(TyperGroup):
    """A Typer group whose commands are built when first asked for (see :data:`COMMANDS`);
    help lists them all, in that order."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """As ``TyperGroup``; the commands are :data:`COMMANDS`, built on demand."""
        super().__init__(*args, **kwargs)
        commands = _Commands()
        for name, command in self.commands.items():
            commands[name] = command
        self.commands = commands


app = typer.Typer(
    name="dealflow",
    no_args_is_help=True,
    add_completion=False,
    cls=LazyGroup,
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


def main() -> None:
    """Console-script entry point."""
    # Modules and definitions are never garbage: out of the GC's sight once the command has
    # imported and built them (start-up is lazy, so not before).
    common.freeze_when_started()
    app()
