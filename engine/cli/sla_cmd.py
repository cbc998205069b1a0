"""``dealflow sla tick``: run the SLA timer once, with an explicit clock."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import typer

from engine.cli.common import DbOption, console, open_engine
from engine.cli.output import EXIT_CHECK_FAILED, envelope, print_json

__all__ = ["app", "tick"]

app = typer.Typer(
    name="sla",
    help="The SLA timer: breaches and escalation steps recorded as events.",
    no_args_is_help=True,
)


@app.command()
def tick(
    db: DbOption = None,
    at: Annotated[str | None, typer.Option(
        "--at", help="The timer's clock: judge as of this time (RFC 3339, or a date = end "
        "of that day in Asia/Shanghai) \\[default: now]", show_default=False)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON instead of a table.")] = False,
) -> None:
    """Run the SLA timer once as of --at: record every breach, correction and escalation
    step (owner, manager) whose instant that clock has passed, each once, as events on the
    domain-event feed; print what it recorded.

    For replays, tests and cron; `dealflow serve` runs the same timer on the wall clock.
    Exits 1 when another timer (a running `dealflow serve`) holds the timer's lock."""
    from engine.cli.views_cmd import _caught_up, _runner, parse_moment
    from projections.sla import SlaProjection
    from projections.sla.recorded import recorded_json, recorded_table, subjects

    now = parse_moment(at, "--at") if at else datetime.now(UTC)
    with open_engine(db) as engine:
        runner = _runner(engine, [SlaProjection.name])
        _caught_up(runner)
        timer = engine.sla_timer(None)
        if not timer.lock.acquire():
            console.print("[red]error:[/red] another SLA timer holds the lock (a running "
                          "`dealflow serve`?); it records the escalations")
            raise typer.Exit(EXIT_CHECK_FAILED)
        timer.tick(now)
        events = list(timer.appended)
        view = runner.live[SlaProjection.name]
        assert isinstance(view, SlaProjection)
        _caught_up(runner)  # the views see what the tick recorded
        runner.stop()
        with engine.sql.connect() as conn:
            names = subjects(conn, view, events)
        judged = timer.judged_deals
        timer.stop()
    rows: list[dict[str, Any]] = [recorded_json(e, names.get(e.deal)) for e in events]
    if as_json:
        print_json(envelope("sla.tick", {"at": now.isoformat(), "judged_deals": judged,
                                         "recorded": len(rows), "events": rows},
                            as_of=now))
        return
    console.print(recorded_table(now, judged, rows))
