"""``dealflow audit ...``: the tamper-evident history (see docs/audit.md).

keygen, follow, checkpoint, verify, prove, check-proof, consistency, history, export and
check-bundle. Exit codes: 0 all good, 1 something does not verify, 2 unusable input.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from engine.cli.common import DbOption, console, open_engine
from engine.cli.output import EXIT_USAGE, envelope, print_json
from engine.errors import DealflowError

if TYPE_CHECKING:
    from engine.audit import ChainFollower, Checkpoint, DealHistory, VerifyReport
    from engine.audit.keys import Ed25519PublicKey
    from engine.bootstrap import Engine

__all__ = ["app"]

app = typer.Typer(
    help="Tamper-evident history: hash chain, signed checkpoints, proofs, bundles.",
    no_args_is_help=True,
)

KeyOption = Annotated[Path | None, typer.Option(
    "--key", help="Ed25519 private key (PEM) \\[default: $DEALFLOW_AUDIT_KEY or "
    "dealflow-audit.key]", show_default=False)]
PublicKeyOption = Annotated[Path | None, typer.Option(
    "--public-key", help="The trusted public key (PEM) \\[default: the audit key's .pub]",
    show_default=False)]


def _fail(message: str, code: int = 2) -> typer.Exit:
    console.print(f"[red]error:[/red] {escape(message)}", soft_wrap=True)
    return typer.Exit(code)


def _key_path(engine: Engine | None, key: Path | None) -> Path:
    if key is not None:
        return key
    if engine is not None:
        return engine.settings.audit_key
    from engine.settings import Settings

    return Settings().audit_key


def _public_key(engine: Engine | None, public: Path | None) -> Ed25519PublicKey:
    from engine.audit import AuditError, load_public_key
    from engine.audit.keys import public_key_path

    try:
        if public is not None:
            return load_public_key(public)
        private = _key_path(engine, None)
        beside = public_key_path(private)
        if not beside.exists() and not private.exists():
            raise _fail(f"no public key file {beside} (nor its signing key {private}): create "
                        "the key pair with `dealflow audit keygen`, or pass --public-key FILE")
        return load_public_key(beside if beside.exists() else private)
    except AuditError as exc:
        raise _fail(str(exc)) from exc


def _follower(engine: Engine, key: Path | None, *, signing: bool) -> ChainFollower:
    from engine.audit import AuditError, load_private_key

    try:
        signer = load_private_key(_key_path(engine, key)) if signing else None
    except AuditError as exc:
        raise _fail(str(exc)) from exc
    return engine.chain_follower(signer)


def _caught_up(follower: ChainFollower) -> None:
    """Chain what the log holds; if a running follower holds the lock, wait for it."""
    head = follower.head()
    if follower.lock.acquire():
        follower.catch_up()
        follower.lock.release()
    elif not follower.wait(head, timeout=60):
        raise _fail("the audit chain is behind the log and its follower does not catch up")


@app.command()
def keygen(key: KeyOption = None,
           force: Annotated[bool, typer.Option("--force", help="Replace an existing key.")
                            ] = False) -> None:
    """Create the Ed25519 key that signs checkpoints (and its public key, <key>.pub)."""
    _create_key(_key_path(None, key), overwrite=force)


def _create_key(path: Path, *, overwrite: bool = False) -> None:
    from engine.audit import AuditError, generate_key, key_id
    from engine.audit.keys import public_key_path

    try:
        public = generate_key(path, overwrite=overwrite)
    except AuditError as exc:
        raise _fail(str(exc)) from exc
    console.print(f"signing key {path} (keep it secret), public key {public_key_path(path)} "
                  f"(give it to auditors); key id {key_id(public)}")


@app.command()
def follow(db: DbOption = None, key: KeyOption = None,
           interval: Annotated[float, typer.Option(help="Seconds between polls.", min=0.01)
                               ] = 0.2,
           create_key: Annotated[bool, typer.Option(
               "--create-key", help="Create the signing key first if there is none (as "
               "`audit keygen` does).")] = False) -> None:
    """Keep the hash chain up with the log (a singleton service).

    With a signing key it also signs a checkpoint every $DEALFLOW_AUDIT_CHECKPOINT_EVERY
    events or $DEALFLOW_AUDIT_CHECKPOINT_SECONDS seconds, whichever comes first."""
    with open_engine(db, create=True) as engine:
        if create_key and not _key_path(engine, key).exists():
            _create_key(_key_path(engine, key))
        follower = _follower(engine, key, signing=_key_path(engine, key).exists())
        if follower.signer is None:
            console.print("[yellow]warning:[/yellow] no signing key: chaining without "
                          "periodic checkpoints (create one with `dealflow audit keygen`, or "
                          "pass --create-key)")
        if not follower.lock.acquire(blocking=True, timeout=1):
            console.print("another follower holds the chain's lock; standing by")
        try:  # from the message on, Ctrl-C stops cleanly
            console.print(f"following {engine.app.url} (Ctrl-C stops)")
            follower.follow(interval)
        except KeyboardInterrupt:
            pass
        finally:
            follower.stop()
        console.print(f"chain at position {follower.state().position:,}")


@app.command()
def checkpoint(db: DbOption = None, key: KeyOption = None,
               out: Annotated[Path | None, typer.Option(
                   help="Also write the checkpoint to this file.")] = None) -> None:
    """Chain everything logged so far and sign a checkpoint of it (printed as JSON)."""
    with open_engine(db) as engine:
        follower = _follower(engine, key, signing=True)
        _caught_up(follower)
        signed = follower.checkpoint()
    if out is not None:
        out.write_text(signed.dumps())
    typer.echo(signed.dumps(), nl=False)


def _checkpoints(files: list[Path] | None) -> list[tuple[str, Checkpoint]]:
    from engine.audit import AuditError, read_checkpoint

    try:
        return [(str(path), read_checkpoint(path)) for path in files or []]
    except AuditError as exc:
        raise _fail(str(exc)) from exc


@app.command()
def verify(db: DbOption = None,
           checkpoint: Annotated[list[Path] | None, typer.Option(
               "--checkpoint", help="A checkpoint file you kept (repeatable); stored "
               "checkpoints are always checked too.")] = None,
           public_key: PublicKeyOption = None,
           as_json: Annotated[bool, typer.Option("--json", help="JSON instead of text.")
                              ] = False) -> None:
    """Recompute the chain from the stored bytes; name the first position that differs.

    The recomputed chain and Merkle roots are checked against the stored chain and every
    signed checkpoint (stored ones and those given). Exit code 1 when anything differs."""
    from engine.audit import Verifier

    given = _checkpoints(checkpoint)
    with open_engine(db) as engine:
        verifier = Verifier(engine.app, engine.sql, _public_key(engine, public_key),
                            checkpoints=given)
        with Progress(TextColumn("[bold]verify[/bold] position"), BarColumn(),
                      MofNCompleteColumn(), TextColumn("{task.fields[rate]}"),
                      TimeElapsedColumn(), console=console, disable=as_json) as progress:
            task = progress.add_task("log", total=None, rate="")
            started = datetime.now(UTC)

            def show(done: int, total: int) -> None:
                seconds = (datetime.now(UTC) - started).total_seconds() or 1e-9
                progress.update(task, completed=done, total=total,
                                rate=f"{done / seconds:,.0f} pos/s")

            report = verifier.run(show)
    if as_json:
        typer.echo(json.dumps(_report_json(report), indent=2))
    else:
        _print_report(report)
    if not (report.ok and report.complete):
        raise typer.Exit(1)


def _report_json(report: VerifyReport) -> dict[str, object]:
    first = report.first
    return {"ok": report.ok and report.complete, "complete": report.complete,
            "events": report.events, "chained": report.chained, "unchained": report.unchained,
            "last_position": report.last_position,
            "checkpoints_valid": report.checkpoints_valid, "seconds": report.seconds,
            "first": None if first is None else {"kind": first.kind, "position": first.position},
            "findings": [{"kind": f.kind, "position": f.position, "checkpoint": f.checkpoint,
                          "message": f.message} for f in report.findings]}


def _print_report(report: VerifyReport) -> None:
    rate = report.events / report.seconds if report.seconds else 0.0
    console.print(f"{report.events:,} events read up to position {report.last_position:,} "
                  f"in {report.seconds:.1f} s ({rate:,.0f} events/s); chain of "
                  f"{report.chained:,}; {len(report.checkpoints_valid)} signed checkpoint(s) "
                  "match")
    if report.ok and report.complete:
        console.print("[green]OK[/green]: the log is the one that was recorded")
        return
    if report.ok:
        console.print(f"[red]NOT VERIFIED[/red]: {_unchained(report)}", soft_wrap=True)
        return
    first = report.first
    assert first is not None
    where = f"position {first.position:,}" if first.position is not None else "the trail"
    console.print(f"[red]FAILED[/red] at {where}: [bold]{first.kind}[/bold]: "
                  f"{escape(first.message)}")
    for finding in report.findings:
        if finding is not first:
            console.print(f"  also: [bold]{finding.kind}[/bold]: {escape(finding.message)}")
    if not report.complete:
        console.print(f"  also: {_unchained(report)}", soft_wrap=True)


def _unchained(report: VerifyReport) -> str:
    """How many events the chain does not cover (so went unchecked), and what to run."""
    return (f"{report.unchained:,} of {report.events:,} events are not chained, so they were "
            "not verified: chain them with `dealflow audit checkpoint` (or keep `dealflow "
            "audit follow` running), then run `dealflow audit verify` again")


def _stored_or_given(engine: Engine, path: Path | None) -> Checkpoint:
    from engine.audit.chain import ChainStore

    if path is not None:
        return _checkpoints([path])[0][1]
    with engine.sql.connect() as conn:
        last = ChainStore(engine.sql).last_checkpoint(conn)
    if last is None:
        raise _fail("no checkpoint stored yet: run `dealflow audit checkpoint`")
    return last


@app.command()
def prove(position: Annotated[int, typer.Argument(help="The event's log position.")],
          db: DbOption = None,
          checkpoint: Annotated[Path | None, typer.Option(
              help="The checkpoint to prove against \\[default: the latest stored]")] = None
          ) -> None:
    """Print the inclusion proof (JSON) of the event at POSITION against a checkpoint."""
    from engine.audit import AuditError, Prover

    with open_engine(db) as engine:
        against = _stored_or_given(engine, checkpoint)
        try:
            proof = Prover(engine.app, engine.sql).inclusion([position], against)[0]
        except AuditError as exc:
            raise _fail(str(exc), 1) from exc
    typer.echo(json.dumps({"proof": proof.to_json(), "checkpoint": against.to_json()},
                          indent=2, ensure_ascii=False))


@app.command(name="check-proof")
def check_proof(proof: Annotated[Path, typer.Argument(help="A proof from `audit prove`.")],
                checkpoint: Annotated[Path | None, typer.Option(
                    help="The checkpoint you trust \\[default: the one in the proof file]")
                ] = None,
                public_key: PublicKeyOption = None) -> None:
    """Check an inclusion proof offline: the checkpoint's signature, then the proof."""
    from engine.audit import AuditError, Checkpoint, InclusionProof, read_checkpoint

    try:
        document = json.loads(proof.read_bytes())
        parsed = InclusionProof.from_json(document["proof"])
        against = (read_checkpoint(checkpoint) if checkpoint is not None
                   else Checkpoint.from_json(document["checkpoint"], str(proof)))
    except (OSError, ValueError, KeyError, TypeError, AuditError) as exc:
        raise _fail(f"{proof}: {exc}") from exc
    problem = against.signature_problem(_public_key(None, public_key))
    if problem is not None:
        raise _fail(f"the checkpoint is forged: {problem}", 1)
    try:
        parsed.check(against)
    except AuditError as exc:
        raise _fail(str(exc), 1) from exc
    console.print(f"[green]OK[/green]: the event at position {parsed.position:,} "
                  f"({parsed.topic}) is in the log of checkpoint {against.size:,}")


@app.command()
def consistency(old: Annotated[Path, typer.Argument(help="The older checkpoint file.")],
                new: Annotated[Path, typer.Argument(help="The newer checkpoint file.")],
                db: DbOption = None, public_key: PublicKeyOption = None) -> None:
    """Prove (and check) that OLD's log is a prefix of NEW's; print the proof as JSON."""
    from engine.audit import AuditError, Prover

    (_, first), (_, second) = _checkpoints([old, new])
    with open_engine(db) as engine:
        key = _public_key(engine, public_key)
        for item in (first, second):
            problem = item.signature_problem(key)
            if problem is not None:
                raise _fail(f"checkpoint {item.size} is forged: {problem}", 1)
        try:
            proof = Prover(engine.app, engine.sql).consistency(first, second)
            proof.check(*sorted((first, second), key=lambda c: c.size))
        except AuditError as exc:
            raise _fail(str(exc), 1) from exc
    typer.echo(json.dumps(proof.to_json(), indent=2))


@app.command()
def history(deal: Annotated[str, typer.Argument(help="The deal's subject (contract key).")],
            db: DbOption = None,
            as_json: Annotated[bool, typer.Option("--json", help="JSON instead of tables.")
                               ] = False) -> None:
    """Every fact of a deal, the decision taken on it, and what it caused.

    In the order decided: both times, source, actor, the decision (accepted with its
    transition, or the rule or field that refused it), the SLA escalations and the
    commission lines of the deal. A deal no fact names exits 2."""
    from engine.audit.commission import commission_lines
    from engine.audit.history import deal_history

    with open_engine(db) as engine:
        runner = engine.runner(["commissions"])
        found = deal_history(engine.app, engine.sql, deal,
                             commission=commission_lines(runner, datetime.now(UTC)))
    if not found.entries:
        raise _fail(f"no deal {deal!r}: no fact about it was accepted or refused "
                    "(a deal is named by its subject, e.g. D-1)", EXIT_USAGE)
    if as_json:
        print_json(envelope("audit.history", found.to_json()))
        return
    _print_history(found)


def _print_history(found: DealHistory) -> None:
    table = Table(title=f"History of deal {escape(found.deal)} ({found.deal_id})")
    for column in ("recorded", "happened", "fact", "source / id", "actor", "decision",
                   "position", "chain"):
        table.add_column(column, overflow="fold", no_wrap=column in ("recorded", "happened"),
                         ratio=3 if column == "decision" else 1)
    colours = {"accepted": "green", "refused": "red", "derived": "yellow",
               "undecodable": "red"}
    for e in found.entries:
        colour = colours.get(e.decision, "white")
        table.add_row(
            e.recorded_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + "Z"
            if e.recorded_at else "?",
            e.occurred_at.isoformat(timespec="minutes") if e.occurred_at else "",
            e.fact_type, escape(f"{e.source or ''} / {e.fact_id or ''}"), e.actor or "",
            f"[{colour}]{e.decision}[/{colour}]: {escape(e.detail)}",
            "" if e.position is None else str(e.position), e.chain or "")
    console.print(table)
    if found.commission:
        lines = Table(title="Commission lines of the deal")
        for column in ("rep", "period", "kind", "credit", "rate", "amount", "facts"):
            lines.add_column(column)
        for c in found.commission:
            lines.add_row(c.rep, c.period, c.kind, c.credit or "", c.rate or "",
                          f"{c.amount} {c.currency}", ", ".join(c.facts))
        console.print(lines)
    for note in found.notes:
        console.print(f"note: {escape(note)}")


@app.command()
def export(period: Annotated[str, typer.Option(help="The statement period, e.g. 2026-Q1.")],
           out: Annotated[Path, typer.Option(help="A new (or empty) folder for the bundle.")],
           db: DbOption = None, key: KeyOption = None) -> None:
    """Write a self-contained, signed bundle of a period's commission statements.

    The statements as known now, every event they depend on, their inclusion proofs,
    the plans and a fresh signed checkpoint; check it with `dealflow audit check-bundle`."""
    from engine.audit.bundle import export_bundle

    with open_engine(db) as engine:
        follower = _follower(engine, key, signing=True)
        assert follower.signer is not None
        try:
            summary = export_bundle(engine.app, engine.runner(["commissions"]), follower,
                                    out, period)
        except (DealflowError, ValueError) as exc:
            raise _fail(str(exc), 1) from exc
    console.print(f"wrote {out}: {summary.statements} statement(s) of {period}, "
                  f"{summary.events:,} events with proofs against checkpoint "
                  f"{summary.checkpoint.size:,} (known at {summary.checkpoint.time.isoformat()})")


@app.command(name="check-bundle")
def check_bundle_cmd(folder: Annotated[Path, typer.Argument(help="An export bundle.")],
                     public_key: PublicKeyOption = None) -> None:
    """Verify an export bundle offline, with nothing but the public key.

    Signatures, file hashes, every event's inclusion proof, and the statements recomputed
    from the bundle's events. Exit code 1 (naming the file and position) if any fails."""
    from engine.audit import AuditError, BundleError
    from engine.audit.bundle_check import check_bundle

    try:
        result = check_bundle(folder, _public_key(None, public_key))
    except BundleError as exc:
        where = f" (position {exc.position})" if exc.position is not None else ""
        raise _fail(f"{exc}{where}", 1) from exc
    except AuditError as exc:
        raise _fail(str(exc), 1) from exc
    console.print(f"[green]OK[/green]: {result.events:,} events proven against checkpoint "
                  f"{result.checkpoint.size:,}; {result.statements} statement(s) of "
                  f"{result.period} recompute exactly (as of {result.params.as_of.isoformat()},"
                  f" known at {result.checkpoint.time.isoformat()})")
