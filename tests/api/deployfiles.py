"""The files in deploy/ as the tests read them, and the compose token recipe run here."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

__all__ = ["DASHBOARD", "DEPLOY", "PROMETHEUS_CONFIG", "RULES", "RULE_TESTS", "TOKEN_SERVICE",
           "compose", "compose_files", "interpolate", "run_token_recipe", "token_recipe"]

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
RULES = DEPLOY / "prometheus" / "alerts.yaml"
RULE_TESTS = DEPLOY / "prometheus" / "alerts.test.yaml"
PROMETHEUS_CONFIG = DEPLOY / "prometheus" / "prometheus.yaml"
DASHBOARD = DEPLOY / "grafana" / "dealflow-dashboard.json"
TOKEN_SERVICE = "prometheus-token"


def compose_files() -> list[Path]:
    """Every compose file shipped."""
    return sorted(DEPLOY.glob("compose*.yaml"))


def compose(path: Path) -> dict[str, Any]:
    """A compose file as docker compose reads it: YAML with its anchors and ``<<`` merges
    (PyYAML's safe loader resolves both)."""
    document: dict[str, Any] = yaml.safe_load(path.read_text())
    return document


def interpolate(value: str) -> str:
    """``value`` after compose's interpolation: our files use none (a single ``$`` would be
    compose's, taken from the host), only ``$$``, its escape for a ``$`` left to the
    container's shell."""
    assert "$" not in value.replace("$$", ""), f"compose would interpolate {value!r}"
    return value.replace("$$", "$")


def token_recipe() -> tuple[list[str], dict[str, str]]:
    """The ``prometheus-token`` service's command (after compose's interpolation) and
    environment."""
    service = compose(DEPLOY / "compose.service.yaml")["services"][TOKEN_SERVICE]
    command = [interpolate(part) for part in service["command"]]
    return command, {k: str(v) for k, v in service["environment"].items()}


def run_token_recipe(db: str, token_file: Path) -> subprocess.CompletedProcess[str]:
    """Run the recipe's command here as the container would: ``dealflow`` on the PATH, the
    service's environment with the store and the token file replaced by ours."""
    command, env = token_recipe()
    bin_dir = str(Path(sys.executable).parent)
    environ = {k: v for k, v in os.environ.items() if not k.startswith("DEALFLOW_")}
    environ.update(env)
    environ.update({"DEALFLOW_DB": db, "TOKEN_FILE": str(token_file),
                    "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"})
    return subprocess.run(command, env=environ, capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL)
