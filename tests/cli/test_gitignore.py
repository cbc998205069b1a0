"""What running dealflow in a checkout leaves behind is ignored by git: stores, their lock
files and the private audit key; the public key (made to be shared) is not."""

from __future__ import annotations

from fnmatch import fnmatch
from pathlib import Path

from tests.cli.helpers import dealflow
from tests.engine.facts import opened, raw

REPOSITORY = Path(__file__).parents[2]


def ignored(name: str) -> bool:
    """Whether a file ``name`` at the top of the checkout matches a pattern of .gitignore
    (its patterns are file-name globs: no slashes inside, no negations)."""
    patterns = [line.strip() for line in (REPOSITORY / ".gitignore").read_text().splitlines()
                if line.strip() and not line.startswith("#")]
    return any(fnmatch(name, pattern) for pattern in patterns)


def test_the_files_a_session_makes_are_ignored_but_the_public_key(tmp_path: Path) -> None:
    (tmp_path / "facts.jsonl").write_bytes(raw(opened("D-1")) + b"\n")
    for command in (["ingest", "facts.jsonl", "-q"], ["report", "pipeline"],
                    ["audit", "keygen"], ["audit", "checkpoint"]):
        done = dealflow(tmp_path, *command)
        assert done.returncode == 0, (command, done.stdout + done.stderr)
    made = {path.name for path in tmp_path.iterdir()} - {"facts.jsonl"}
    assert {"dealflow.db", "dealflow-audit.key", "dealflow-audit.key.pub",
            "dealflow.db.views.lock", "dealflow.db.audit-chain.lock",
            "dealflow.db.write.lock"} <= made
    assert sorted(name for name in made if not ignored(name)) == ["dealflow-audit.key.pub"]


def test_the_other_lock_files_are_ignored() -> None:
    for name in ("sales.db.relay.lock", "sales.db.sla-timer.lock",
                 "sales.db.kafka-0a1b2c3d.lock", "sales.db-wal", "sales.db-shm"):
        assert ignored(name), name
