"""The CLI builds a command only when it runs or its help is shown, and shows the same help
as an app with every command registered up front (as ``engine/cli/main.py`` did before)."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import import_module
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from engine.cli import main as cli_main
from engine.cli.main import COMMANDS, app

_WIDE = {"COLUMNS": "100", "TERM": "dumb"}


def _eager_app() -> typer.Typer:
    """The same app, every command registered on it at once."""
    eager = typer.Typer(name="dealflow", no_args_is_help=True, add_completion=False)
    eager.callback()(cli_main.dealflow)
    for name, (module, attribute) in COMMANDS.items():
        target = getattr(import_module(module), attribute)
        if isinstance(target, typer.Typer):
            eager.add_typer(target, name=name)
        else:
            eager.command(name=name)(target)
    return eager


def _out(application: typer.Typer, *args: str) -> tuple[int, str]:
    done = CliRunner().invoke(application, list(args), env=_WIDE)
    return done.exit_code, done.output


@pytest.mark.parametrize("args", [
    ("--help",), (), ("ingets",), *((name, "--help") for name in COMMANDS),
    ("audit", "verify", "--help"), ("workflow", "list", "--help"),
], ids=" ".join)
def test_the_same_help_as_every_command_registered_up_front(args: tuple[str, ...]) -> None:
    assert _out(app, *args) == _out(_eager_app(), *args)


def test_a_typo_is_still_told_the_command_it_meant() -> None:
    code, output = _out(app, "ingets")
    assert code == 2
    assert "Did you mean 'ingest'?" in output


def test_running_a_command_imports_no_other_command_module(tmp_path: Path) -> None:
    script = (
        "import json, sys\n"
        "from typer.testing import CliRunner\n"
        "from engine.cli.main import app\n"
        "done = CliRunner().invoke(app, ['rejects', '--db', 'sqlite:///x.db'])\n"
        "print(json.dumps([done.exit_code, sorted(sys.modules)]))\n")
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True,
                          text=True, check=True)
    code, modules = json.loads(done.stdout.splitlines()[-1])
    assert code == 2  # no store there: the command ran
    loaded = {name for name in modules if name.startswith("engine.cli.")}
    assert loaded == {"engine.cli.common", "engine.cli.output", "engine.cli.ingest_cmd",
                      "engine.cli.main"}
