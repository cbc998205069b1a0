"""``dealflow workflow ...``: list, show and draw the workflow definitions."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from engine.cli.output import EXIT_USAGE
from engine.errors import ConfigurationError

if TYPE_CHECKING:
    from workflows import CompiledWorkflow, WorkflowRegistry

__all__ = ["app"]

app = typer.Typer(
    help="Inspect the workflow definitions (stages, transitions, SLA rules).",
    no_args_is_help=True,
)


class Format(StrEnum):
    """Diagram text formats."""

    mermaid = "mermaid"
    dot = "dot"


DefinitionsOption = Annotated[
    Path | None,
    typer.Option(
        "--definitions",
        help="A definitions folder (workflows/*.yaml, plans/*.yaml, or a flat folder of "
        "workflow *.yaml) to load on top of the shipped ones \\[default: $DEALFLOW_DEFINITIONS]",
        show_default=False,
        file_okay=False,
        dir_okay=True,
    ),
]
NameArgument = Annotated[str, typer.Argument(help="Workflow name, e.g. standard or channel.")]
VersionOption = Annotated[
    int | None, typer.Option("--version", help="Workflow version (default: the latest).")
]


def _registry(definitions: Path | None) -> WorkflowRegistry:
    from engine.definitions import load_definitions
    from engine.settings import Settings

    # The same folder and loader as every other command (bootstrap): the settings' folder
    # unless --definitions names one, in either layout.
    folder = definitions if definitions is not None else Settings().definitions
    return load_definitions(folder).workflows


def _workflow(name: str, version: int | None, definitions: Path | None) -> CompiledWorkflow:
    return _registry(definitions).get(name, version)


def _fail(exc: ConfigurationError) -> typer.Exit:
    # An unknown workflow or version, or a definitions folder that does not load: what
    # was asked for does not exist or cannot be used (docs/cli.md, exit 2).
    Console(stderr=True).print(f"[red]error:[/red] {escape(str(exc))}")
    return typer.Exit(code=EXIT_USAGE)


@app.command("list")
def list_workflows(definitions: DefinitionsOption = None) -> None:
    """List every workflow version: its stages and SLA rules."""
    try:
        registry = _registry(definitions)
    except ConfigurationError as exc:
        raise _fail(exc) from exc
    table = Table(title="Workflows")
    table.add_column("name", no_wrap=True)
    table.add_column("version", justify="right")
    table.add_column("stages")
    table.add_column("SLA rules")
    for wf in registry:
        table.add_row(wf.name, str(wf.version), ", ".join(wf.stages),
                      ", ".join(rule.name for rule in wf.sla_rules) or "-")
    Console().print(table)


@app.command("show")
def show(name: NameArgument, version: VersionOption = None,
         definitions: DefinitionsOption = None) -> None:
    """Show one workflow: stages, transitions, closed-stage rules, SLA rules and calendar."""
    try:
        wf = _workflow(name, version, definitions)
    except ConfigurationError as exc:
        raise _fail(exc) from exc
    console = Console()
    title = wf.definition.title
    console.print(f"[bold]{escape(wf.name)}[/bold] version {wf.version}"
                  + (f" - {escape(title)}" if title else ""))
    console.print(_stages_table(wf))
    console.print(_transitions_table(wf))
    console.print(_sla_table(wf))
    console.print(f"Calendar: {escape(wf.calendar.describe())}")


def _stages_table(wf: CompiledWorkflow) -> Table:
    table = Table(title="Stages")
    table.add_column("stage", no_wrap=True)
    table.add_column("kind")
    table.add_column("probability", justify="right")
    table.add_column("forecast")
    table.add_column("entering it requires")
    table.add_column("accepted while in it")
    for stage in wf.stages:
        spec = wf.definition.stage(stage)
        accepts = "any fact" if spec.accepts is None else ", ".join(sorted(spec.accepts))
        table.add_row(stage, spec.kind, str(wf.probability(stage)), wf.forecast_category(stage),
                      escape(wf.requirement(stage).describe()), escape(accepts or "nothing"))
    return table


def _transitions_table(wf: CompiledWorkflow) -> Table:
    table = Table(title="Transitions")
    for column in ("trigger", "from", "to"):
        table.add_column(column, no_wrap=True)
    for trigger, source, dest in wf.transitions:
        table.add_row(trigger, source, dest)
    return table


def _sla_table(wf: CompiledWorkflow) -> Table:
    table = Table(title="SLA rules")
    table.add_column("rule", no_wrap=True)
    table.add_column("starts at")
    table.add_column("met by")
    table.add_column("deadline")
    for rule in wf.sla_rules:
        start = ("the deal's first " if rule.first else "") + rule.start.describe()
        end = rule.end.describe() + (", at or after the start" if rule.end_at_or_after_start
                                     else "")
        table.add_row(rule.name, escape(start), escape(end), rule.deadline.describe())
    return table


@app.command("diagram")
def diagram_cmd(
    name: NameArgument,
    fmt: Annotated[
        Format, typer.Option("--format", help="mermaid (stateDiagram-v2) or dot (Graphviz).")
    ] = Format.mermaid,
    version: VersionOption = None,
    definitions: DefinitionsOption = None,
) -> None:
    """Print a workflow's state diagram as Mermaid or Graphviz DOT text."""
    from workflows import diagram

    try:
        wf = _workflow(name, version, definitions)
    except ConfigurationError as exc:
        raise _fail(exc) from exc
    typer.echo(diagram(wf, fmt.value), nl=False)
