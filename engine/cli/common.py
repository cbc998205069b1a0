"""What the CLI commands share: the --db option, opening the engine, rendering summaries.

Start-up is lazy: this module and every command module import at the top only the standard
library, typer, rich and light engine modules, so that ``--help`` loads no store, server or
Kafka machinery; what a command needs is imported in its body (tests/cli/test_startup.py).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from engine.cli.output import EXIT_UNREACHABLE, EXIT_USAGE
from engine.errors import DealflowError, StoreError

if TYPE_CHECKING:
    from engine.bootstrap import Engine
    from engine.ingest.summary import IngestSummary
    from engine.settings import Settings

__all__ = ["STDIN", "DbOption", "console", "freeze_when_started", "ingest_file",
           "open_engine", "render_summary", "started"]

# Piped output (no terminal to measure) gets room for the report tables instead of 80 columns.
console = Console(width=None if sys.stdout.isatty() else 160)

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="Store URL: sqlite:///FILE or postgresql://USER@HOST:PORT/DB "
        "\\[default: $DEALFLOW_DB or sqlite:///dealflow.db]",
        show_default=False,
    ),
]


# Set by the console script only: a test that invokes the app in-process must not freeze
# its engines out of the collector's reach.
_freeze_pending = False


def freeze_when_started() -> None:
    """Have the command's start-up (its engine bootstrapped, see :func:`started`) end by
    moving the heap out of the garbage collector's sight, once: the modules it imported
    and the definitions it compiled are never garbage."""
    global _freeze_pending
    _freeze_pending = True


def started() -> None:
    """The command has built what it runs: freeze the heap if the console script asked."""
    global _freeze_pending
    if _freeze_pending:
        from engine.store.gc import freeze_startup

        _freeze_pending = False
        freeze_startup()


def _settings(db: str | None, *, create: bool, probe: bool, **overrides: object
              ) -> Settings:
    """Settings from the environment with CLI overrides, and the store checked.

    With ``probe`` (every one-shot command) a PostgreSQL server is asked first, once and
    quickly: one that does not answer, or has no such database, exits 3 with the cause in
    one line instead of a pool waiting on it. Unless ``create`` (a command that writes),
    the store must exist: a read command on a mistyped ``--db`` exits 2 naming the stores
    it does find, and creates nothing."""
    from engine.settings import Settings
    from engine.store.existing import store_exists
    from engine.store.probe import probe_store

    values = {k: v for k, v in {"db": db, **overrides}.items() if v is not None}
    settings = Settings(**values)  # type: ignore[arg-type]
    try:
        if probe:
            probe_store(settings.db)
        found = create or store_exists(settings.db)
    except StoreError as exc:  # the server could not be asked
        raise _exit(str(exc), EXIT_UNREACHABLE) from None
    except DealflowError as exc:  # an unusable URL
        raise _exit(str(exc), EXIT_USAGE) from None
    if not found:
        raise _exit(_no_store(settings.db), EXIT_USAGE)
    return settings


def _exit(message: str, code: int) -> typer.Exit:
    console.print(f"[red]error:[/red] {escape(message)}", soft_wrap=True)
    return typer.Exit(code)


def _no_store(url: str) -> str:
    """The message for a missing store: the stores found here and beside it, or how to
    make one."""
    from engine.store.app import parse_store_url
    from engine.store.existing import find_stores, store_location

    folders = [Path(".")]
    path = parse_store_url(url).get("SQLITE_DBNAME")
    if path is not None and Path(path).parent.resolve() != Path(".").resolve():
        folders.append(Path(path).parent)
    found = [store for folder in folders for store in find_stores(folder)]
    missing = f"no store at {store_location(url)}"
    if not found:
        return (f"{missing} (and no other store here): create one with `dealflow ingest FILE` "
                "(or try `dealflow demo`), or name one with --db URL or $DEALFLOW_DB")
    listed = ", ".join(store_location(store) for store in found)
    return f"{missing}; stores found: {listed} (choose with --db {found[0]} or $DEALFLOW_DB)"


@contextmanager
def open_engine(db: str | None, *, create: bool = False, probe: bool = True,
                **overrides: object) -> Iterator[Engine]:
    """Bootstrap from settings (env) with CLI overrides; close at the end.

    Only a command that writes passes ``create``; only a service that keeps retrying an
    unreachable store (consume, relay) passes ``probe=False``: see :func:`_settings`."""
    from eventsourcing.persistence import OperationalError

    from engine.bootstrap import bootstrap

    settings = _settings(db, create=create, probe=probe, **overrides)
    try:
        engine = bootstrap(settings)
    except OperationalError as exc:  # the server went away after the probe
        raise _exit(f"cannot reach the store: {' '.join(str(exc).split())}",
                    EXIT_UNREACHABLE) from None
    except DealflowError as exc:
        raise _exit(str(exc), EXIT_USAGE) from exc
    started()
    try:
        yield engine
    finally:
        engine.close()


def auto_workers(size: int) -> int:
    """The writer alone, plus one parsing helper per idle core beyond two (up to 3) for a
    file over 4 MiB (see :func:`engine.ingest.parallel.default_workers`)."""
    from engine.ingest.parallel import default_workers

    return default_workers(size, os.cpu_count() or 1, os.getloadavg()[0])


STDIN = Path("-")  # the FILE argument that means standard input


def ingest_file(engine: Engine, path: Path, *, quiet: bool = False) -> IngestSummary:
    """Stream ``path`` (or standard input, for ``-``) through the ingestor in batches, with
    a progress bar (of bytes read, against the file's size when there is one)."""
    from engine.ingest.jsonl import iter_lines, read_batches
    from engine.ingest.stream import ingest_stream
    from engine.ingest.summary import IngestSummary

    summary = IngestSummary()
    source = sys.stdin.buffer if path == STDIN else path
    size = None if path == STDIN else path.stat().st_size
    with Progress(
        TextColumn("[bold]ingest[/bold] {task.description}"),
        BarColumn(),
        DownloadColumn(),
        TextColumn("{task.fields[facts]:>9,} facts"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=quiet,
        transient=False,
    ) as progress:
        task = progress.add_task("stdin" if path == STDIN else path.name, total=size, facts=0)

        read = 0

        def advance(n: int) -> None:
            nonlocal read
            read += n

        def show(current: IngestSummary) -> None:
            progress.update(task, completed=read, facts=current.inputs)

        # A stream's length is unknown: one worker unless --workers asks for more.
        workers = engine.settings.workers or auto_workers(size or 0)
        if workers > 1:
            summary = engine.parallel_ingest(workers).run(
                iter_lines(source, on_bytes=advance), on_batch=show)
        else:
            batches = read_batches(source, engine.settings.batch_size, on_bytes=advance)
            for result in ingest_stream(engine.ingestor, batches):
                summary.add(result.counts())
                show(summary)
        progress.update(task, total=read, completed=read, facts=summary.inputs)
    return summary


def render_summary(summary: IngestSummary, *, title: str = "Ingest summary") -> Table:
    """A table: accepted, duplicates, rejected by reason, events written."""
    table = Table(title=title, show_header=True)
    table.add_column("outcome")
    table.add_column("count", justify="right")
    table.add_row("inputs", f"{summary.inputs:,}")
    table.add_row("[green]accepted[/green]", f"{summary.accepted:,}")
    table.add_row("[yellow]duplicates[/yellow] (changed nothing)", f"{summary.duplicates:,}")
    table.add_row("[red]rejected[/red]", f"{summary.rejected_total:,}")
    for reason, count in sorted(summary.rejected.items(), key=lambda kv: (-kv[1], kv[0])):
        table.add_row(f"  {reason}", f"{count:,}")
    table.add_row("events appended", f"{summary.events:,}")
    if summary.last_position is not None:
        table.add_row("log position", f"{summary.last_position:,}")
    return table
