"""``dealflow ingest`` and ``dealflow rejects``."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from engine.cli.common import DbOption, console, ingest_file, open_engine, render_summary

__all__ = ["ingest", "rejects"]


def ingest(
    file: Annotated[Path, typer.Argument(help="A JSONL file: one contract fact per line.",
                                         exists=True, dir_okay=False, readable=True)],
    db: DbOption = None,
    batch_size: Annotated[int | None, typer.Option(
        help="Facts decided and saved per transaction [default: 1000]", show_default=False,
        min=1)] = None,
    workers: Annotated[int | None, typer.Option(
        help="Worker processes; facts are routed to them by subject, so each deal's facts "
        "stay in order [default: one per core, up to 4, for files over 4 MiB, else 1]",
        show_default=False, min=1)] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Ingest a JSONL file of facts (CONTRACT.md) into the store.

    Every line is validated, deduplicated by (source, id) and judged by its deal's
    workflow; accepted facts become events, rejected ones are stored with their reason
    (see `dealflow rejects`). Ends with a summary: accepted, duplicates, rejected by reason.
    """
    with open_engine(db, create=True, batch_size=batch_size, workers=workers) as engine:
        started = time.perf_counter()
        summary = ingest_file(engine, file, quiet=quiet)
        elapsed = time.perf_counter() - started
        console.print(render_summary(summary))
        rate = summary.inputs / elapsed if elapsed > 0 else 0.0
        console.print(f"{summary.inputs:,} inputs in {elapsed:.1f} s ({rate:,.0f}/s) "
                      f"into {engine.app.url}")


def rejects(
    db: DbOption = None,
    reason: Annotated[str | None, typer.Option(
        help="Only this reason (e.g. stage_jump, conflict, invalid:time).")] = None,
    limit: Annotated[int, typer.Option(help="How many to show.", min=1)] = 50,
    after: Annotated[int, typer.Option(help="Show rejections after this sequence number.",
                                       min=0)] = 0,
    raw: Annotated[bool, typer.Option("--raw", help="Print the original bytes as JSONL.")] = False,
) -> None:
    """List stored rejections (oldest first) with their reason and original input."""
    with open_engine(db) as engine:
        rows = engine.app.store.select_rejections(limit=limit, after=after, reason=reason)
        counts = engine.app.store.rejection_counts()
        if raw:
            for row in rows:
                typer.echo(row.raw.decode("utf-8", errors="replace"))
            return
        table = Table(title=f"Rejections ({sum(counts.values()):,} stored)")
        for column in ("seq", "recorded", "origin", "reason", "message", "input"):
            table.add_column(column, overflow="fold")
        for row in rows:
            text = row.raw.decode("utf-8", errors="replace")
            table.add_row(str(row.seq), row.recorded_at[:19], row.origin, row.reason,
                          row.message, text if len(text) <= 80 else text[:77] + "...")
        console.print(table)
        if counts:
            by_reason = ", ".join(f"{k}: {v:,}" for k, v in sorted(counts.items()))
            console.print(f"by reason: {by_reason}")
