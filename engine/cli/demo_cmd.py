"""``dealflow demo``: realistic quarters of sales facts through the engine."""

from __future__ import annotations

import time
from collections.abc import Iterator
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from engine.cli.common import console, open_engine, render_summary
from engine.cli.views_cmd import parse_moment

if TYPE_CHECKING:
    from engine.bootstrap import Engine
    from engine.demo import GeneratedCounts
    from engine.demo.clock import Quarter
    from engine.ingest.summary import IngestSummary

__all__ = ["demo"]

DEFAULT_DB = Path("dealflow-demo.db")
# engine.demo.FIRST_QUARTER, for the help text without importing the generator
# (tests/cli/test_startup.py keeps the two equal).
HELP_FIRST_QUARTER = "2026-Q1"
LINES_PER_DEAL = 11.9  # what the generator yields on average, for the progress bar


def _inputs(lines: Iterator[bytes]) -> Iterator[tuple[bytes, str]]:
    for number, raw in enumerate(lines, start=1):
        yield raw, f"demo:{number}"


def _remove_store(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def _expectations(counts: GeneratedCounts, summary: IngestSummary) -> Table:
    table = Table(title="Generated vs. what the engine decided")
    for column in ("", "generated", "engine", "agree"):
        table.add_column(column, justify="right" if column else "left")
    rows = [("good facts -> accepted", counts.good, summary.accepted),
            ("re-sent -> duplicates", counts.duplicates, summary.duplicates),
            ("bad inputs -> rejected", counts.bad, summary.rejected_total)]
    for label, generated, decided in rows:
        agree = "[green]yes[/green]" if generated == decided else "[red]NO[/red]"
        table.add_row(label, f"{generated:,}", f"{decided:,}", agree)
        if label.startswith("good"):
            # Delivered after later-timed facts, yet valid: accepted like the rest.
            table.add_row("  of which delivered late", f"{counts.late:,}", "", "")
    return table


def demo(
    seed: Annotated[int, typer.Option(help="Random seed: the same seed gives the same facts.")] = 7,
    deals: Annotated[int, typer.Option(help="Deals opened per quarter (about 12 facts each).",
                                       min=1)] = 5000,
    quarters: Annotated[int, typer.Option(
        help=f"Consecutive quarters from {HELP_FIRST_QUARTER}, same reps, teams and "
        "accounts. The first quarter's facts are the same whatever this is.", min=1)] = 1,
    db: Annotated[Path, typer.Option(
        help="The fresh SQLite file to ingest into. The default demo file is replaced on "
        "every run; another existing file needs --replace.")] = DEFAULT_DB,
    replace: Annotated[bool, typer.Option(help="Replace an existing --db file.")] = False,
    out: Annotated[Path | None, typer.Option(
        help="Only write the facts to this JSONL file (nothing is ingested).")] = None,
    workers: Annotated[int, typer.Option(
        help="Ingest processes: this one decides every fact in line order, the others "
        "parse and validate ahead of it.", min=1)] = 2,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Generate realistic quarters (12 reps in two teams, standard and channel deals, with
    duplicates, late deliveries and a few percent of bad inputs) and ingest them into a fresh
    SQLite file, then print what happened and the last quarter's reports. Deterministic for
    a seed."""
    from engine.demo import FIRST_QUARTER, GeneratedCounts, generate, write_jsonl
    from engine.demo.clock import Quarter
    from engine.ingest.batch import RawInput
    from engine.ingest.summary import IngestSummary

    if out is not None:
        counts = write_jsonl(out, seed, deals, quarters=quarters)
        console.print(f"wrote {counts.lines:,} facts to {out} "
                      f"({counts.good:,} good, {counts.late:,} of them late, "
                      f"{counts.duplicates:,} duplicates, {counts.bad:,} bad)")
        return
    if db.exists() and db != DEFAULT_DB and not replace:
        console.print(f"[red]error:[/red] {db} exists; pass --replace to overwrite it")
        raise typer.Exit(2)
    _remove_store(db)
    counts = GeneratedCounts()
    with open_engine(f"sqlite:///{db}", create=True, workers=workers) as engine:
        started = time.perf_counter()
        with Progress(TextColumn("[bold]demo[/bold] ingest"), BarColumn(), MofNCompleteColumn(),
                      TimeElapsedColumn(), console=console, disable=quiet) as progress:
            task = progress.add_task("facts", total=int(deals * quarters * LINES_PER_DEAL))

            def show(current: IngestSummary) -> None:
                progress.update(task, completed=current.inputs)

            lines = _inputs(generate(seed, deals=deals, quarters=quarters, counts=counts))
            if workers > 1:
                summary = engine.parallel_ingest(workers).run(lines, on_batch=show)
            else:
                summary = IngestSummary()
                while batch := list(islice(lines, engine.settings.batch_size)):
                    summary.add(engine.ingestor.ingest([RawInput(*i) for i in batch]).counts())
                    show(summary)
            progress.update(task, total=summary.inputs, completed=summary.inputs)
        elapsed = time.perf_counter() - started
        title = (f"Demo quarter (seed {seed}, {deals:,} deals)" if quarters == 1 else
                 f"Demo, {quarters} quarters (seed {seed}, {deals:,} deals each)")
        console.print(render_summary(summary, title=title))
        console.print(_expectations(counts, summary))
        console.print(f"{summary.inputs:,} facts generated and ingested in {elapsed:.1f} s "
                      f"({summary.inputs / elapsed:,.0f}/s) into {db}")
        _print_reports(engine, Quarter.parse(FIRST_QUARTER).after(quarters - 1), quiet=quiet)
    url = f"sqlite:///{db}"
    console.print(f"Next: [bold]dealflow report pipeline|sla|commissions|kpis|routing|forecast "
                  f"--db {url}[/bold], [bold]dealflow rejects --db {url}[/bold].")


# What the demo prints at the end: the last quarter's reports as of its last day.
DEMO_REPORTS = (("pipeline", 2), ("sla", 1), ("commissions", 1), ("routing", 2),
                ("forecast", 1))


def _print_reports(engine: Engine, last: Quarter, *, quiet: bool) -> None:
    from engine.demo.clock import local_date
    from projections.registry import build
    from projections.report import ReportParams

    runner = engine.runner()
    with Progress(TextColumn("[bold]views[/bold] build"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console, disable=quiet) as progress:
        task = progress.add_task("events", total=runner.head())
        runner.catch_up(lambda done, total: progress.update(task, completed=done, total=total))
    last_day = local_date(last.end - 1).isoformat()
    params = ReportParams(as_of=parse_moment(last_day, "--as-of"))
    with runner.engine.connect() as conn:
        for name, how_many in DEMO_REPORTS:
            options = ({"period": last.label} if name in ("commissions", "routing", "forecast")
                       else {})
            report = build(name, conn, runner.live, params, **options)
            for table in report.tables()[:how_many]:
                console.print(table)
    runner.stop()
