"""``dealflow workflow list/show/diagram`` through Typer's test runner."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from engine.cli.main import app
from tests.workflows.helpers import shipped_data, stage_of


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner(env={"COLUMNS": "200"})


def test_list(runner: CliRunner) -> None:
    result = runner.invoke(app, ["workflow", "list"])
    assert result.exit_code == 0, result.output
    for text in ("standard", "channel", "needs_analysis", "joint_call",
                 "registration_approval", "after_sales_followup"):
        assert text in result.stdout


def test_show_standard(runner: CliRunner) -> None:
    result = runner.invoke(app, ["workflow", "show", "standard"])
    assert result.exit_code == 0, result.output
    out = result.stdout
    for text in ("standard version 1", "lead", "0.05", "needs_analysis",
                 "deal.customer_info_captured", "payment.received", "deal.reopened",
                 "first_contact", "9 business hours", "336 hours (14 days)",
                 "mon-fri 09:00-18:00 Asia/Shanghai, no holidays"):
        assert text in out, text
    assert "registration_approval" not in out
    negotiation = next(line for line in out.splitlines() if "negotiation" in line
                       and "0.80" in line)
    assert "commit" in negotiation  # the stage's forecast category


def test_show_channel(runner: CliRunner) -> None:
    result = runner.invoke(app, ["workflow", "show", "channel", "--version", "1"])
    assert result.exit_code == 0, result.output
    assert "activity.logged with kind call or meeting" in result.stdout
    assert "registration_approval" in result.stdout


def test_diagram_mermaid_contains_stage_names(runner: CliRunner) -> None:
    result = runner.invoke(app, ["workflow", "diagram", "channel"])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("---\nchannel v1\n---\nstateDiagram-v2")
    for stage in ("registered", "approved", "joint_call", "proposal", "quote", "negotiation",
                  "won", "lost"):
        assert stage in result.stdout


def test_diagram_dot(runner: CliRunner) -> None:
    result = runner.invoke(app, ["workflow", "diagram", "standard", "--format", "dot"])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith('digraph "standard v1"')


def test_user_definitions(runner: CliRunner, tmp_path: Path) -> None:
    data = shipped_data("standard")
    data["version"] = 2
    stage_of(data, "quote")["probability"] = "0.65"
    (tmp_path / "standard-v2.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    listed = runner.invoke(app, ["workflow", "list", "--definitions", str(tmp_path)])
    assert listed.exit_code == 0, listed.output
    shown = runner.invoke(app, ["workflow", "show", "standard", "--definitions", str(tmp_path)])
    assert "standard version 2" in shown.stdout
    assert "0.65" in shown.stdout


def test_an_invalid_user_definition_is_reported(runner: CliRunner, tmp_path: Path) -> None:
    data = shipped_data("standard")
    data["name"] = "broken"
    data["transitions"][0]["dest"] = "nowhere"
    (tmp_path / "broken.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    result = runner.invoke(app, ["workflow", "list", "--definitions", str(tmp_path)])
    assert result.exit_code == 2
    assert "unknown stage 'nowhere'" in result.stderr


def test_unknown_workflow(runner: CliRunner) -> None:
    result = runner.invoke(app, ["workflow", "show", "retail"])
    assert result.exit_code == 2
    assert "unknown workflow 'retail'" in result.stderr


def test_help_texts(runner: CliRunner) -> None:
    result = runner.invoke(app, ["workflow", "--help"])
    assert result.exit_code == 0
    for command in ("list", "show", "diagram"):
        assert command in result.stdout
    diagram_help = runner.invoke(app, ["workflow", "diagram", "--help"])
    assert "--format" in diagram_help.stdout
    assert "--definitions" in diagram_help.stdout
