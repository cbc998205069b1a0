"""``dealflow backup --out FILE`` and ``dealflow restore FILE --db URL``
(:mod:`engine.store.backup`)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from engine.cli.common import DbOption, console
from engine.cli.output import EXIT_UNREACHABLE, EXIT_USAGE

if TYPE_CHECKING:
    from engine.settings import Settings

__all__ = ["backup", "restore"]


def _fail(message: str, code: int) -> typer.Exit:
    console.print(f"[red]error:[/red] {escape(message)}", soft_wrap=True)
    return typer.Exit(code)


def _settings(db: str | None) -> Settings:
    from engine.settings import Settings

    return Settings() if db is None else Settings(db=db)


def backup(
    out: Annotated[Path, typer.Option("--out", help="The backup file to write (must not "
                                      "exist).")],
    db: DbOption = None,
) -> None:
    """Copy the store consistently, also while `serve` writes (SQLite: online backup;
    PostgreSQL: pg_dump of the server's major version). The audit signing key is not in
    the store, so not in the backup: keep it apart (docs/operations.md)."""
    from engine.errors import BackupError, StoreError
    from engine.store.backup import backup as take_backup
    from engine.store.probe import probe_store

    settings = _settings(db)
    url = settings.db
    try:
        probe_store(url)
        info = take_backup(url, out, pg_bin=settings.pg_bin)
    except StoreError as exc:
        raise _fail(str(exc), EXIT_UNREACHABLE) from None
    except BackupError as exc:
        raise _fail(str(exc), EXIT_USAGE) from None
    console.print(f"backed up the {info.kind} store to {info.path} ({info.size:,} bytes, "
                  f"{info.tool})", highlight=False, soft_wrap=True)


def restore(
    file: Annotated[Path, typer.Argument(help="A file written by `dealflow backup`.")],
    db: DbOption = None,
) -> None:
    """Restore a backup into a new store at --db; refused if a store (or any file, or a
    database with tables) is already there."""
    from engine.errors import BackupError, StoreError
    from engine.store.backup import restore as do_restore

    settings = _settings(db)
    url = settings.db
    try:
        info = do_restore(file, url, pg_bin=settings.pg_bin)
    except StoreError as exc:
        raise _fail(str(exc), EXIT_UNREACHABLE) from None
    except BackupError as exc:
        raise _fail(str(exc), EXIT_USAGE) from None
    console.print(f"restored {file} into the {info.kind} store at {escape(url)} "
                  f"({info.tool}); check it with: dealflow audit verify --db URL "
                  "--checkpoint FILE", highlight=False, soft_wrap=True)
