"""``dealflow token create|revoke|list``: API tokens, stored hashed in the store."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Literal

import typer
from rich.markup import escape
from rich.table import Table

from engine.cli.common import DbOption, console, open_engine
from engine.cli.output import envelope, print_json

if TYPE_CHECKING:
    from engine.serve.tokens import TokenStore

__all__ = ["RoleName", "app"]

#: The values of engine.serve.tokens.Role, spelled out so that the help needs no SQL
#: machinery (tests/cli/test_startup.py keeps the two equal).
RoleName = Literal["ingest", "viewer", "auditor", "admin"]

app = typer.Typer(help="API tokens for `dealflow serve` (stored as SHA-256 digests).",
                  no_args_is_help=True)


@contextmanager
def _store(db: str | None, *, create: bool = False) -> Iterator[TokenStore]:
    # Opening the engine checks that the store exists, or (``create``) creates it whole, so
    # that the store a first token made is one the read commands then find.
    from engine.serve.tokens import TokenError, TokenStore

    with open_engine(db, create=create) as engine:
        try:
            yield TokenStore(engine.sql, cache_seconds=0)
        except TokenError as exc:
            console.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(2) from exc


@app.command()
def create(
    role: Annotated[RoleName, typer.Option(help="What the token may do.")],
    name: Annotated[str, typer.Option(help="Who or what uses it (unique among active "
                                      "tokens).")],
    db: DbOption = None,
) -> None:
    """Create a token and print its secret (shown only this once)."""
    from engine.serve.tokens import Role

    with _store(db, create=True) as store:
        issued = store.create(Role(role), name)
    console.print(f"created token [bold]{issued.info.token_id}[/bold] "
                  f"({issued.info.role.value}, {issued.info.name!r}); its secret, shown once:",
                  highlight=False)
    typer.echo(issued.secret)


@app.command()
def revoke(
    token: Annotated[str, typer.Argument(help="The token's id, or an active token's name.")],
    db: DbOption = None,
) -> None:
    """Revoke a token (other serving processes notice within their token cache time)."""
    with _store(db) as store:
        info = store.revoke(token)
    console.print(f"revoked token {info.token_id} ({info.role.value}, {info.name!r}) at "
                  f"{info.revoked_at}", highlight=False)


@app.command("list")
def list_tokens(
    db: DbOption = None,
    all_: Annotated[bool, typer.Option("--all", help="Include revoked tokens.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="JSON instead of a table.")
                       ] = False,
) -> None:
    """The tokens (never their secrets)."""
    with _store(db) as store:
        found = store.list(include_revoked=all_)
    if as_json:
        print_json(envelope("tokens", {"tokens": [
            {"id": t.token_id, "name": t.name, "role": t.role.value,
             "created_at": t.created_at, "revoked_at": t.revoked_at} for t in found]}))
        return
    table = Table(title=f"API tokens ({len(found)})")
    for column in ("id", "name", "role", "created", "revoked"):
        table.add_column(column)
    for t in found:
        table.add_row(t.token_id, escape(t.name), t.role.value, t.created_at,
                      t.revoked_at or "")
    console.print(table)
