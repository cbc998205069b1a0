"""The CLI as a user meets it: ingest with a summary, rejects, demo --out, help texts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from engine.cli.main import app
from tests.engine.facts import fact, opened, raw

runner = CliRunner()


def write(path: Path, lines: list[bytes]) -> Path:
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


@pytest.mark.parametrize("workers", ["1", "2"])
def test_ingest_prints_a_summary_and_rejects_lists_them(tmp_path: Path, workers: str) -> None:
    first = opened("D-1")
    lines = [raw(first), raw(first), b"{oops", raw(fact("deal.stage_changed", "D-1",
                                                       {"to": "quote"})), b"",
             raw(fact("activity.logged", "D-1", {"kind": "call"}))]
    path = write(tmp_path / "facts.jsonl", lines)
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    result = runner.invoke(app, ["ingest", str(path), "--db", db, "--quiet",
                                 "--workers", workers])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "inputs │ 5" in text
    assert "accepted │ 2" in text
    assert "duplicates (changed nothing) │ 1" in text
    assert "invalid:(body) │ 1" in text and "stage_jump │ 1" in text

    listed = runner.invoke(app, ["rejects", "--db", db, "--raw"])
    assert listed.exit_code == 0
    # With two workers the two rejections may be stored in either order.
    assert sorted(listed.output.splitlines()) == sorted([b"{oops".decode(), lines[3].decode()])
    only = runner.invoke(app, ["rejects", "--db", db, "--reason", "stage_jump"])
    assert "stage_jump" in only.output and "invalid:(body)" not in only.output.split("by")[0]


def test_demo_out_writes_deterministic_facts(tmp_path: Path) -> None:
    outputs = []
    for name in ("a.jsonl", "b.jsonl"):
        result = runner.invoke(app, ["demo", "--deals", "30", "--seed", "4", "--out",
                                     str(tmp_path / name)])
        assert result.exit_code == 0, result.output
        outputs.append((tmp_path / name).read_bytes())
    assert outputs[0] == outputs[1]
    assert all(line for line in outputs[0].splitlines())
    json.loads(outputs[0].splitlines()[0])


def test_demo_refuses_to_overwrite_another_file(tmp_path: Path) -> None:
    existing = tmp_path / "mine.db"
    existing.write_bytes(b"precious")
    result = runner.invoke(app, ["demo", "--deals", "5", "--db", str(existing)])
    assert result.exit_code == 2
    assert existing.read_bytes() == b"precious"


def test_bad_store_url_is_a_clear_error(tmp_path: Path) -> None:
    path = write(tmp_path / "f.jsonl", [raw(opened("D-1"))])
    result = runner.invoke(app, ["ingest", str(path), "--db", "mysql://x/y", "--quiet"])
    assert result.exit_code == 2
    assert "unsupported scheme" in result.output


@pytest.mark.parametrize("command", [[], ["ingest"], ["rejects"], ["demo"], ["report"],
                                     ["rebuild"], ["workflow", "show"]])
def test_help_explains(command: list[str]) -> None:
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0
    assert "Usage" in result.output
