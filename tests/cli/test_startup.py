"""CLI start-up is lazy: ``--help`` and ``--version`` load no store, server or Kafka code.

Through the real console script; the time it takes is bench/reports.py's to print (against
``python -c pass``), never asserted here."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path
from typing import Any, get_args

import pytest
import typer.main

from engine.cli import demo_cmd, token_cmd, views_cmd
from engine.cli.main import app
from engine.serve.tokens import Role
from projections.commissions import PlanRegistry
from projections.registry import REPORTS, shipped_views
from tests.cli.helpers import dealflow
from workflows import WorkflowRegistry

#: Top-level packages that only running a command may import: the store, the server, Kafka,
#: metrics, signing keys, settings parsing and workflow loading.
HEAVY = ("sqlalchemy", "eventsourcing", "psycopg", "fastapi", "starlette", "uvicorn", "kafka",
         "prometheus_client", "cryptography", "pydantic_settings", "yaml", "transitions")


def _command_paths(command: Any, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    for name, sub in getattr(command, "commands", {}).items():
        yield (*prefix, name)
        yield from _command_paths(sub, (*prefix, name))


COMMANDS = list(_command_paths(typer.main.get_command(app)))


def _imported(stderr: str) -> set[str]:
    """The top-level packages in ``-X importtime`` output."""
    return {name.split(".")[0] for name in
            re.findall(r"^import time:\s+\d+ \|\s+\d+ \|\s*(\S+)$", stderr, re.MULTILINE)}


def test_help_lists_every_command(tmp_path: Path) -> None:
    done = dealflow(tmp_path, "--help")
    assert done.returncode == 0, done.stderr
    panel = done.stdout.split("Commands", 1)[1]
    listed = set(re.findall(r"^\W+([a-z][\w-]*) {2,}", panel, re.MULTILINE))
    top_level = {path[0] for path in COMMANDS}
    assert top_level == {"demo", "ingest", "rejects", "rebuild", "report", "views", "serve",
                         "consume", "relay", "kafka-topics", "workflow", "audit", "token",
                         "sla", "backup", "restore"}
    assert top_level <= listed


def test_version(tmp_path: Path) -> None:
    done = dealflow(tmp_path, "--version")
    assert (done.returncode, done.stdout) == (0, f"dealflow {version('dealflow')}\n")


def test_importing_the_cli_imports_nothing_heavy(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c",
         "import json, sys, engine.cli.main; print(json.dumps(sorted(sys.modules)))"],
        cwd=tmp_path, capture_output=True, text=True, check=True)
    modules = json.loads(done.stdout)
    assert not {name.split(".")[0] for name in modules} & set(HEAVY)
    # The command modules import what they run in their bodies.
    assert not [name for name in modules if name.startswith(("engine.", "projections",
                                                              "workflows"))
                and not name.startswith("engine.cli") and name != "engine.errors"]


@pytest.mark.parametrize("args", [("--help",), ("--version",),
                                  *((*path, "--help") for path in COMMANDS)], ids=" ".join)
def test_help_and_version_import_nothing_heavy(tmp_path: Path, args: tuple[str, ...]) -> None:
    done = dealflow(tmp_path, *args, PYTHONPROFILEIMPORTTIME="1")
    assert done.returncode == 0, done.stderr[-2000:]
    imported = _imported(done.stderr)
    assert "typer" in imported  # the report was read
    assert sorted(imported & set(HEAVY)) == []


def test_ingest_into_sqlite_loads_no_read_side(tmp_path: Path) -> None:
    """A command that only writes a SQLite store loads no view, SQLAlchemy or psycopg
    (engine/bootstrap.py builds the read side on first use)."""
    line = ('{"id": "s-1", "type": "deal.opened", "source": "crm", "time": '
            '"2026-01-05T09:00:00+08:00", "subject": "D-1", "data": {"account": "acct", '
            '"owner": "rep-01", "amount": "1000.00", "currency": "CNY"}}')
    (tmp_path / "facts.jsonl").write_text(line + "\n")
    done = dealflow(tmp_path, "ingest", "facts.jsonl", "-q", "--db", "sqlite:///s.db",
                    PYTHONPROFILEIMPORTTIME="1")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "accepted" in done.stdout and "1 inputs" in done.stdout
    imported = _imported(done.stderr)
    assert {"eventsourcing", "pydantic"} <= imported  # the report was read
    assert sorted(imported & {"sqlalchemy", "psycopg", "projections"}) == []


# The help texts spell out what lives in heavy modules; these keep them equal.

def test_the_report_help_names_the_reports() -> None:
    assert tuple(REPORTS) == views_cmd.REPORT_NAMES


def test_the_rebuild_help_names_the_views() -> None:
    views = shipped_views(WorkflowRegistry.shipped(), PlanRegistry.shipped())
    assert tuple(view.name for view in views) == views_cmd.VIEW_NAMES


def test_the_token_roles_are_the_api_roles() -> None:
    assert get_args(token_cmd.RoleName) == tuple(role.value for role in Role)


def test_the_demo_help_names_the_first_quarter() -> None:
    from engine.demo import FIRST_QUARTER

    assert demo_cmd.HELP_FIRST_QUARTER == FIRST_QUARTER
