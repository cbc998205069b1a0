"""The output conventions every command follows (see docs/cli.md).

- ``--json`` prints one JSON object whose top level has ``kind`` (what it is, e.g.
  ``report.sla``), ``as_of`` and ``known_at`` (RFC 3339 or null), then the command's own
  keys; keys are only ever added, never renamed or dropped, and lists are whole unless the
  user asked for ``--limit``.
- Exit codes: 0 ok; 1 a check failed (verification found a difference, a report's
  identity did not hold); 2 a usage or input error, or something asked for does not exist;
  3 the store or the broker cannot be reached.
- Times in JSON: RFC 3339 with the offset of the zone the report is about; money: a decimal
  string beside its ISO 4217 currency.
- Tables for people show money, ratios, instants, durations and counts one way each
  (``projections.formatting``; docs/cli.md, "Human output") and never cut a cell.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import typer

__all__ = ["EXIT_CHECK_FAILED", "EXIT_OK", "EXIT_UNREACHABLE", "EXIT_USAGE", "envelope",
           "print_json"]

EXIT_OK = 0
EXIT_CHECK_FAILED = 1
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def envelope(kind: str, content: dict[str, Any], *, as_of: datetime | None = None,
             known_at: datetime | None = None) -> dict[str, Any]:
    """``content`` under the common top-level keys (``content``'s own values win where it
    already has ``as_of``/``known_at``)."""
    return {"kind": kind, "as_of": _time(as_of), "known_at": _time(known_at), **content}


def print_json(document: dict[str, Any]) -> None:
    """Print ``document`` as indented JSON (UTF-8 kept)."""
    typer.echo(json.dumps(document, indent=2, ensure_ascii=False))
