"""``dealflow ingest`` decides a file in transactions of the setting's default size unless
``--batch-size`` or ``DEALFLOW_BATCH_SIZE`` (in any case) says otherwise, the option first."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import engine.ingest.jsonl as jsonl
from engine.cli.main import app
from engine.settings import Settings
from tests.engine.facts import opened, raw


@pytest.fixture
def sizes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The batch size each ingest read its file with."""
    seen: list[int] = []
    read = jsonl.read_batches

    def recording(source: Any, batch_size: int, **kwargs: Any) -> Iterator[Any]:
        seen.append(batch_size)
        return read(source, batch_size, **kwargs)

    monkeypatch.setattr(jsonl, "read_batches", recording)
    for name in ("DEALFLOW_BATCH_SIZE", "dealflow_batch_size"):
        monkeypatch.delenv(name, raising=False)
    return seen


@pytest.mark.parametrize(("args", "env", "expected"), [
    ([], {}, Settings.model_fields["batch_size"].default),
    (["--batch-size", "3"], {}, 3),
    ([], {"DEALFLOW_BATCH_SIZE": "7"}, 7),
    ([], {"dealflow_batch_size": "9"}, 9),
    (["--batch-size", "4"], {"DEALFLOW_BATCH_SIZE": "7"}, 4),
])
def test_the_batch_size_of_a_file(tmp_path: Path, sizes: list[int], args: list[str],
                                  env: dict[str, str], expected: int) -> None:
    path = tmp_path / "facts.jsonl"
    path.write_bytes(b"\n".join(raw(opened(f"B-{n}")) for n in range(5)) + b"\n")
    result = CliRunner().invoke(app, ["ingest", str(path), "-q", "--workers", "1", "--db",
                                      f"sqlite:///{tmp_path / 'b.db'}", *args], env=env)
    assert result.exit_code == 0, result.output
    assert "accepted │ 5" in " ".join(result.output.split())
    assert sizes == [expected]
