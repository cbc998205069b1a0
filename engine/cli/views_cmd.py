"""``dealflow rebuild``, ``dealflow report`` and ``dealflow views``."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import TYPE_CHECKING, Annotated, Any
from zoneinfo import ZoneInfo

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from engine.cli.common import DbOption, console, open_engine
from engine.cli.output import EXIT_USAGE, envelope, print_json
from engine.errors import NotFoundError, ReportOptionError

if TYPE_CHECKING:
    from engine.bootstrap import Engine
    from projections.runner import ProjectionRunner

__all__ = ["REPORT_NAMES", "VIEW_NAMES", "rebuild", "report", "views"]

REPORT_ZONE = ZoneInfo("Asia/Shanghai")

# The help texts name the reports and views without importing them (that loads the store):
# tests/cli/test_startup.py checks these against projections.registry.
REPORT_NAMES = ("pipeline", "sla", "commissions", "kpis", "forecast", "waterfall", "accuracy",
                "routing", "segments")
VIEW_NAMES = ("pipeline", "sla", "commissions", "kpis", "forecast", "routing", "segments")


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
    from engine.contract.values import parse_timestamp

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
        help=f"Views to rebuild (default: all of {', '.join(VIEW_NAMES)}).",
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
        help=f"Which report: {', '.join(REPORT_NAMES)}.", show_default=False)],
    db: DbOption = None,
    as_of: Annotated[str | None, typer.Option(
        "--as-of", help="Count what happened by this time (RFC 3339, or a date = end of "
        "that day in Asia/Shanghai) \\[default: now]", show_default=False)] = None,
    as_known_at: Annotated[str | None, typer.Option(
        "--as-known-at", help="Use only what dealflow had recorded by this time, to "
        "reproduce a report as it was printed then.", show_default=False)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON instead of tables.")] = False,
    deal: Annotated[str | None, typer.Option(
        help="sla: one deal (its subject); every SLA instance of it is listed.")] = None,
    rep: Annotated[str | None, typer.Option(
        help="sla, commissions, kpis, forecast, accuracy, routing: one rep.")] = None,
    team: Annotated[str | None, typer.Option(
        help="kpis, forecast, routing: one team (forecast: 'no team' for reps without a "
        "profile; routing: the team of the profile in force).")] = None,
    rule: Annotated[str | None, typer.Option(help="sla: one SLA rule.")] = None,
    period: Annotated[str | None, typer.Option(
        help="commissions, kpis: one period, a quarter like 2026-Q1; forecast, waterfall, "
        "accuracy: the quarter forecast \\[default: the quarter of --as-of]; routing: the "
        "quarter whose routed deals are counted \\[default: all].")] = None,
    limit: Annotated[int | None, typer.Option(
        min=1, help="sla: list at most this many overdue and breached instances "
        "\\[default: all]", show_default=False)] = None,
    from_: Annotated[str | None, typer.Option(
        "--from", help="waterfall: the start instant T1 (RFC 3339, or a date = end of that "
        "day in Asia/Shanghai) \\[default: the period's first instant]",
        show_default=False)] = None,
    to: Annotated[str | None, typer.Option(
        "--to", help="waterfall: the end instant T2 \\[default: --as-of, or now]",
        show_default=False)] = None,
    by: Annotated[str | None, typer.Option(
        help="waterfall: 'owner' breaks each currency's row down by owner.",
        show_default=False)] = None,
    deals: Annotated[bool, typer.Option(
        "--deals", help="waterfall: list the deals behind each term.")] = False,
) -> None:
    """Print a report computed from the views, as of a time and as known at a time.

    Filters apply only where they mean something (docs/cli.md has the table); a filter a
    report does not take is refused (exit 2), never ignored."""
    from projections.registry import REPORTS, build, report_filters
    from projections.report import ReportParams

    if name not in REPORTS:
        console.print(f"[red]error:[/red] unknown report {name!r}; "
                      f"known: {', '.join(REPORTS)}")
        raise typer.Exit(EXIT_USAGE)
    given: dict[str, Any] = {"deal": deal, "rep": rep, "team": team, "rule": rule,
                             "period": period, "limit": limit, "from": from_, "to": to,
                             "by": by, "deals": deals or None}
    takes = report_filters(name)
    refused = [f"--{k}" for k, v in given.items() if v is not None and k not in takes]
    if refused:
        offered = ", ".join(f"--{k}" for k in takes) or "no filter"
        console.print(f"[red]error:[/red] report {name} does not take {', '.join(refused)} "
                      f"(it takes {offered})")
        raise typer.Exit(EXIT_USAGE)
    for key in ("from", "to"):  # instants, read as --as-of is
        if given[key] is not None:
            given[key] = parse_moment(given[key], f"--{key}")
    # The waterfall counts facts up to --to: it is the report's as-of unless one is given.
    asked = parse_moment(as_of, "--as-of") if as_of else given["to"]
    params = ReportParams(
        as_of=asked or datetime.now(UTC),
        known_at=parse_moment(as_known_at, "--as-known-at") if as_known_at else None,
    )
    options: dict[str, Any] = {k: v for k, v in given.items() if v is not None}
    with open_engine(db) as engine:
        runner = _runner(engine)
        _caught_up(runner)
        with runner.engine.connect() as conn:
            try:
                result = build(name, conn, runner.live, params, **options)
            except (NotFoundError, ReportOptionError) as exc:
                console.print(f"[red]error:[/red] {exc}")
                raise typer.Exit(EXIT_USAGE) from exc
    if as_json:
        print_json(envelope(f"report.{name}", result.to_json(), as_of=params.as_of,
                            known_at=params.known_at))
        return
    for table in result.tables():
        console.print(table)


def views(db: DbOption = None,
          as_json: Annotated[bool, typer.Option("--json", help="JSON instead of a table.")
                             ] = False) -> None:
    """Each view's position in the log and how far behind it is."""
    with open_engine(db) as engine:
        runner = _runner(engine)
        head = runner.head()
        if as_json:
            print_json(envelope("views", {"head": head, "views": [
                {"view": view, "position": position, "behind": head - position}
                for view, position in runner.positions().items()]}))
            return
        table = Table(title=f"Views (log head {head:,})")
        for column in ("view", "position", "behind"):
            table.add_column(column, justify="left" if column == "view" else "right")
        for view, position in runner.positions().items():
            table.add_row(view, f"{position:,}", f"{head - position:,}")
        console.print(table)
