"""``dealflow ingest`` and ``dealflow rejects``."""

from __future__ import annotations

import base64
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from engine.cli.common import (
    STDIN,
    DbOption,
    console,
    ingest_file,
    open_engine,
    render_summary,
)
from engine.cli.output import EXIT_USAGE, envelope, print_json

if TYPE_CHECKING:
    from engine.store.rows import RejectionRow

__all__ = ["REASON_FORMAT", "ingest", "rejects"]

#: What a reason code looks like: a rule name or error code (``stage_jump``, ``conflict``,
#: ``unprocessable``) or ``invalid:<field>`` (``invalid:data.amount``, ``invalid:(body)``).
REASON_FORMAT = re.compile(r"[a-z][a-z0-9_]*|invalid:\S+")


def ingest(
    file: Annotated[Path, typer.Argument(
        help="A JSONL file of facts, one per line (the contract: docs/contract.md); - reads "
        "standard input.", dir_okay=False, allow_dash=True, show_default=False)],
    db: DbOption = None,
    batch_size: Annotated[int | None, typer.Option(
        help="Facts decided and saved per transaction \\[default: $DEALFLOW_BATCH_SIZE or "
        "1000]", show_default=False, min=1)] = None,
    workers: Annotated[int | None, typer.Option(
        help="Processes: this one decides every fact in line order, the others parse and "
        "validate ahead of it \\[default: $DEALFLOW_WORKERS, or for files over 4 MiB 1 plus "
        "one per idle core beyond two (up to 3), else 1 (1 for standard input)]",
        show_default=False, min=1)] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Ingest a JSONL file of facts (docs/contract.md) into the store.

    Every line is validated, deduplicated by (source, id) and judged by its deal's
    workflow; accepted facts become events, rejected ones are stored with their reason
    (see `dealflow rejects`). Ends with a summary: accepted, duplicates, rejected by reason.
    Exit code 0 when every line was decided, rejections included (they are stored)."""
    # Checked here, not by the argument's type, which takes "-" for a file name.
    if file != STDIN and not file.is_file():
        console.print(f"[red]error:[/red] no file {escape(str(file))} (name a JSONL file, or "
                      "- to read standard input)", soft_wrap=True)
        raise typer.Exit(EXIT_USAGE)
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
        help="Only this reason: a rule (stage_jump, closed_deal, ...), conflict, "
        "unprocessable or invalid:FIELD (invalid:time, invalid:data.amount).")] = None,
    limit: Annotated[int, typer.Option(help="Rejections per page.", min=1)] = 50,
    after: Annotated[int, typer.Option(help="Start after this sequence number (the next "
                                       "page's, as the listing says).", min=0)] = 0,
    raw: Annotated[bool, typer.Option("--raw", help="Print the original bytes as JSONL.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="JSON instead of a table.")
                       ] = False,
) -> None:
    """List stored rejections (oldest first) with their reason and original input, a page
    at a time; a cut listing says how to get the next page."""
    if reason is not None and not REASON_FORMAT.fullmatch(reason):
        console.print(f"[red]error:[/red] unknown reason {escape(repr(reason))}: a reason is "
                      "a rule name (stage_jump, closed_deal, ...), conflict, unprocessable or "
                      "invalid:FIELD (invalid:data.amount)", soft_wrap=True)
        raise typer.Exit(EXIT_USAGE)
    with open_engine(db) as engine:
        rows = engine.app.store.select_rejections(limit=limit + 1, after=after, reason=reason)
        counts = engine.app.store.rejection_counts()
    more = len(rows) > limit
    rows = rows[:limit]
    next_after = rows[-1].seq if more else None
    total = counts.get(reason, 0) if reason is not None else sum(counts.values())
    if as_json:
        print_json(envelope("rejects", {
            "reason": reason, "after": after, "limit": limit, "total": total,
            "by_reason": dict(sorted(counts.items())), "next_after": next_after,
            "rejections": [_row_json(row) for row in rows]}))
        return
    # --raw keeps standard output pure JSONL: what is said about it goes to standard error.
    say = Console(stderr=True, soft_wrap=True).print if raw else console.print
    if reason is not None and not total:
        stored = ", ".join(sorted(counts)) or "none: no rejection is stored"
        say(f"no rejection has reason {escape(reason)}; the stored reasons: {escape(stored)}")
        return
    if raw:
        for row in rows:
            typer.echo(row.raw.decode("utf-8", errors="replace"))
    else:
        console.print(_table(rows, total, reason))
    if counts and not raw:
        by_reason = ", ".join(f"{k}: {v:,}" for k, v in sorted(counts.items()))
        say(f"by reason: {escape(by_reason)}")
    if next_after is not None:
        again = ["dealflow rejects", *(["--db", db] if db else []),
                 *(["--reason", reason] if reason else []),
                 *(["--limit", str(limit)] if limit != 50 else []),
                 *(["--raw"] if raw else []), "--after", str(next_after)]
        say(f"more after #{next_after}: {escape(' '.join(again))}")


def _table(rows: list[RejectionRow], total: int, reason: str | None) -> Table:
    which = f"with reason {reason}: " if reason is not None else ""
    shown = f"#{rows[0].seq}-#{rows[-1].seq} shown" if rows else "none shown"
    table = Table(title=escape(f"Rejections ({which}{total:,} stored, {shown})"))
    for column in ("seq", "recorded", "origin", "reason", "message", "input"):
        table.add_column(column, overflow="fold")
    for row in rows:
        text = row.raw.decode("utf-8", errors="replace")
        table.add_row(str(row.seq), row.recorded_at[:19], escape(row.origin),
                      escape(row.reason), escape(row.message),
                      escape(text if len(text) <= 80 else text[:77] + "..."))
    return table


def _row_json(row: RejectionRow) -> dict[str, Any]:
    out: dict[str, Any] = {
        "seq": row.seq, "recorded_at": row.recorded_at, "origin": row.origin,
        "reason": row.reason, "field": row.field, "message": row.message,
        "source": row.source, "id": row.fact_id, "type": row.fact_type,
        "subject": row.subject}
    try:
        out["input"] = row.raw.decode("utf-8")
    except UnicodeDecodeError:  # the bytes as received, losslessly
        out["input"] = None
        out["input_b64"] = base64.b64encode(row.raw).decode("ascii")
    return out
