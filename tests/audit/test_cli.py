"""``dealflow audit ...`` through Typer's test runner, on a populated SQLite store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from engine.bootstrap import Engine
from engine.cli.main import app
from engine.store.sql import sql_engine
from tests.audit.helpers import Tamper, populate

pytestmark = pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)


@pytest.fixture
def cli(engine: Engine, tmp_path: Path) -> CliRunner:
    populate(engine)
    return CliRunner(env={"COLUMNS": "300", "DEALFLOW_DB": engine.settings.db,
                          "DEALFLOW_AUDIT_KEY": str(tmp_path / "audit.key")})


def test_keygen_checkpoint_verify_prove(cli: CliRunner, engine: Engine, tmp_path: Path) -> None:
    result = cli.invoke(app, ["audit", "keygen"])
    assert result.exit_code == 0, result.output
    assert "key id" in result.stdout
    assert cli.invoke(app, ["audit", "keygen"]).exit_code == 2  # never silently replaced
    saved = tmp_path / "cp.json"
    result = cli.invoke(app, ["audit", "checkpoint", "--out", str(saved)])
    assert result.exit_code == 0, result.output
    kept = json.loads(saved.read_text())
    assert kept["size"] == kept["position"] > 150
    result = cli.invoke(app, ["audit", "verify", "--checkpoint", str(saved)])
    assert result.exit_code == 0, result.output
    assert "OK: the log is the one that was recorded" in result.stdout
    result = cli.invoke(app, ["audit", "prove", "42"])
    assert result.exit_code == 0, result.output
    proof = tmp_path / "proof.json"
    proof.write_text(result.stdout)
    result = cli.invoke(app, ["audit", "check-proof", str(proof), "--checkpoint", str(saved)])
    assert result.exit_code == 0, result.output
    assert "position 42" in result.stdout

    sql = sql_engine(engine.settings.db)
    Tamper(engine, sql).change_byte(42)
    sql.dispose()
    result = cli.invoke(app, ["audit", "verify", "--json"])
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["first"] == {"kind": "altered", "position": 42}
    result = cli.invoke(app, ["audit", "verify"])
    assert "FAILED at position 42: altered" in result.stdout


def test_consistency(cli: CliRunner, tmp_path: Path) -> None:
    cli.invoke(app, ["audit", "keygen"])
    old, new = tmp_path / "old.json", tmp_path / "new.json"
    assert cli.invoke(app, ["audit", "checkpoint", "--out", str(old)]).exit_code == 0
    assert cli.invoke(app, ["audit", "checkpoint", "--out", str(new)]).exit_code == 0
    result = cli.invoke(app, ["audit", "consistency", str(old), str(new)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["old_size"] == json.loads(old.read_text())["size"]


def test_history_export_and_check_bundle(cli: CliRunner, tmp_path: Path) -> None:
    cli.invoke(app, ["audit", "keygen"])
    result = cli.invoke(app, ["audit", "history", "D-3"])
    assert result.exit_code == 0, result.output
    for text in ("History of deal D-3", "refused", "closed_deal", "not chained yet",
                 "Commission lines of the deal"):
        assert text in result.stdout, text
    history = json.loads(cli.invoke(app, ["audit", "history", "D-3", "--json"]).stdout)
    assert history["deal"] == "D-3" and history["commission_lines"]
    assert "transition advance: lead -> contact" in [e["detail"] for e in history["entries"]]
    bundle = tmp_path / "bundle"
    result = cli.invoke(app, ["audit", "export", "--period", "2026-Q1", "--out", str(bundle)])
    assert result.exit_code == 0, result.output
    assert "statement(s) of 2026-Q1" in result.stdout
    assert "chained #" in cli.invoke(app, ["audit", "history", "D-3"]).stdout
    public = tmp_path / "audit.key.pub"
    result = CliRunner(env={"COLUMNS": "200"}).invoke(
        app, ["audit", "check-bundle", str(bundle), "--public-key", str(public)])
    assert result.exit_code == 0, result.output
    assert "recompute exactly" in result.stdout
    (bundle / "statements.json").write_text("{}")
    result = cli.invoke(app, ["audit", "check-bundle", str(bundle)])
    assert result.exit_code == 1
    assert "altered after export" in result.stdout
    result = cli.invoke(app, ["audit", "export", "--period", "2026-Q9", "--out",
                              str(tmp_path / "other")])
    assert result.exit_code == 1
    assert "not like 2026-Q1" in result.stdout
