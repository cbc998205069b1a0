"""``dealflow rebuild``, ``dealflow report`` and ``dealflow views``."""

from __future__ import annotations

import inspect
import json
from datetime import UTC, datetime, time, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from engine.bootstrap import Engine
from engine.cli.common import DbOption, console, open_engine
from engine.contract.values import parse_timestamp
from projections.registry import REPORTS, build
from projections.report import ReportParams
from projections.runner import ProjectionRunner

__all__ = ["rebuild", "report", "views"]

REPORT_ZONE = ZoneInfo("Asia/Shanghai")


def parse_moment(value: str, option: str) -> datetime:
    """An RFC 3339 timestamp, or a date meaning the END of that day in Asia/Shanghai."""
    if len(value) == 10:
        try:
            day = datetime.fromisoformat(value).date()
        except ValueError as exc:
            raise typer.BadParameter(f"{value!r} is not a date YYYY-MM-DD", param_hint=option
                                     ) from exc
        return datetime.combine(day + timedelta(days=1), time(), REPORT_ZONE) - timedelta(
            microseconds=1)
    try:
        return parse_timestamp(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint=option) from exc


def _runner(engine: Engine, names: list[str] | None = None) -> ProjectionRunner:
    try:
        return engine.runner(names)
    except KeyError as exc:
        console.print(f"[red]error:[/red] {exc.args[0]}")
        raise typer.Exit(2) from exc


def _caught_up(runner: ProjectionRunner) -> None:
    """Apply what the views lack; if a running service holds the lock, wait for it."""
    head = runner.head()
    if runner.lock.acquire():
        runner.catch_up()
        runner.lock.release()
    elif not runner.wait(head, timeout=60):
        console.print("[yellow]warning:[/yellow] the views are still behind the log")


def rebuild(
    views: Annotated[list[str] | None, typer.Argument(
        help="Views to rebuild (default: all of pipeline, sla, commissions, kpis).",
        show_default=False)] = None,
    db: DbOption = None,
) -> None:
    """Rebuild views from the start of the log into fresh tables, then swap them in.

    Readers keep using the old tables until the swap. The result equals the live view."""
    with open_engine(db) as engine:
        runner = _runner(engine, views)
        with Progress(TextColumn("[bold]rebuild[/bold]"), BarColumn(), MofNCompleteColumn(),
                      TimeElapsedColumn(), console=console) as progress:
            task = progress.add_task("events", total=runner.head())
            done = runner.rebuild(views, progress=lambda d, t: progress.update(
                task, completed=d, total=t))
        runner.stop()
        for name, position in done.items():
            console.print(f"rebuilt [bold]{name}[/bold] up to log position {position:,}")


def report(
    name: Annotated[str, typer.Argument(
        help=f"Which report: {', '.join(REPORTS) or 'none yet'}.", show_default=False)],
    db: DbOption = None,
    as_of: Annotated[str | None, typer.Option(
        "--as-of", help="Count what happened by this time (RFC 3339, or a date = end of "
        "that day in Asia/Shanghai) [default: now]", show_default=False)] = None,
    as_known_at: Annotated[str | None, typer.Option(
        "--as-known-at", help="Use only what dealflow had recorded by this time, to "
        "reproduce a report as it was printed then.", show_default=False)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON instead of tables.")] = False,
    period: Annotated[str | None, typer.Option(help="Commissions: a period like 2026-Q1.")
                      ] = None,
    rep: Annotated[str | None, typer.Option(help="Commissions: one rep.")] = None,
) -> None:
    """Print a report computed from the views, as of a time and as known at a time."""
    if name not in REPORTS:
        console.print(f"[red]error:[/red] unknown report {name!r}; "
                      f"known: {', '.join(REPORTS)}")
        raise typer.Exit(2)
    params = ReportParams(
        as_of=parse_moment(as_of, "--as-of") if as_of else datetime.now(UTC),
        known_at=parse_moment(as_known_at, "--as-known-at") if as_known_at else None,
    )
    _, builder = REPORTS[name]
    accepted = inspect.signature(builder).parameters
    options: dict[str, Any] = {k: v for k, v in {"period": period, "rep": rep}.items()
                               if v is not None and k in accepted}
    with open_engine(db) as engine:
        runner = _runner(engine)
        _caught_up(runner)
        with runner.engine.connect() as conn:
            result = build(name, conn, runner.live, params, **options)
    if as_json:
        typer.echo(json.dumps(result.to_json(), indent=2, ensure_ascii=False))
        return
    for table in result.tables():
        console.print(table)


def views(db: DbOption = None) -> None:
    """Each view's position in the log and how far behind it is."""
    with open_engine(db) as engine:
        runner = _runner(engine)
        head = runner.head()
        table = Table(title=f"Views (log head {head:,})")
        for column in ("view", "position", "behind"):
            table.add_column(column, justify="left" if column == "view" else "right")
        for view, position in runner.positions().items():
            table.add_row(view, f"{position:,}", f"{head - position:,}")
        console.print(table)
