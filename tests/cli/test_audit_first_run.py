"""The audit trail's first run as a user meets it, through the installed ``dealflow`` script:
verify says OK only once the chain covers every event; a missing key names the file and the
command that creates it; ``audit follow --create-key`` makes the key."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
from pathlib import Path

from tests.audit.helpers import deal_facts
from tests.cli.helpers import DEALFLOW, dealflow, environment
from tests.engine.facts import raw

NOT_CHAINED = ("NOT VERIFIED: {n} of {total} events are not chained, so they were not "
               "verified: chain them with `dealflow audit checkpoint` (or keep `dealflow audit "
               "follow` running), then run `dealflow audit verify` again")
OK = "OK: the log is the one that was recorded"


def ingest(folder: Path, *subjects: str) -> None:
    """Ingest a won deal per subject into the folder's default store."""
    path = folder / f"{'-'.join(subjects)}.jsonl"
    path.write_bytes(b"".join(raw(f) + b"\n" for day, subject in enumerate(subjects, start=5)
                              for f in deal_facts(subject, day)))
    result = dealflow(folder, "ingest", str(path), "-q")
    assert result.returncode == 0, result.stdout + result.stderr


def verify_json(folder: Path) -> tuple[int, dict[str, object]]:
    result = dealflow(folder, "audit", "verify", "--json")
    return result.returncode, json.loads(result.stdout)


def test_verify_says_ok_only_when_the_chain_covers_every_event(tmp_path: Path) -> None:
    ingest(tmp_path, "D-1", "D-2")
    assert dealflow(tmp_path, "audit", "keygen").returncode == 0

    code, report = verify_json(tmp_path)  # keygen, no follower yet: nothing is chained
    events = report["events"]
    assert isinstance(events, int) and events > 0
    assert code == 1
    assert (report["ok"], report["complete"], report["chained"], report["unchained"],
            report["findings"]) == (False, False, 0, events, [])
    result = dealflow(tmp_path, "audit", "verify")
    assert result.returncode == 1
    assert NOT_CHAINED.format(n=events, total=events) in result.stdout.splitlines()
    assert "OK" not in result.stdout.replace("NOT VERIFIED", "")

    assert dealflow(tmp_path, "audit", "checkpoint").returncode == 0
    result = dealflow(tmp_path, "audit", "verify")
    assert result.returncode == 0, result.stdout
    assert result.stdout.splitlines()[-1] == OK
    code, report = verify_json(tmp_path)
    assert (code, report["ok"], report["complete"], report["chained"]) == (0, True, True, events)

    ingest(tmp_path, "D-3")  # appended after the checkpoint, and no follower runs
    code, report = verify_json(tmp_path)
    total = report["events"]
    assert isinstance(total, int) and total > events
    assert (code, report["ok"], report["unchained"]) == (1, False, total - events)
    result = dealflow(tmp_path, "audit", "verify")
    assert result.returncode == 1
    assert result.stdout.splitlines()[-1] == NOT_CHAINED.format(n=total - events, total=total)


def test_tampering_still_fails_and_the_unchained_events_are_named_too(tmp_path: Path) -> None:
    ingest(tmp_path, "D-1")
    assert dealflow(tmp_path, "audit", "keygen").returncode == 0
    assert dealflow(tmp_path, "audit", "checkpoint").returncode == 0
    _, chained = verify_json(tmp_path)
    ingest(tmp_path, "D-2")
    with sqlite3.connect(tmp_path / "dealflow.db") as conn:  # behind dealflow's back
        state = bytearray(conn.execute("SELECT state FROM stored_events WHERE rowid = 3"
                                       ).fetchone()[0])
        state[20] ^= 0x01
        conn.execute("UPDATE stored_events SET state = ? WHERE rowid = 3", (bytes(state),))
    conn.close()
    code, report = verify_json(tmp_path)
    total, events = report["events"], chained["events"]
    assert isinstance(total, int) and isinstance(events, int)
    assert (code, report["ok"], report["first"]) == (1, False, {"kind": "altered",
                                                                "position": 3})
    result = dealflow(tmp_path, "audit", "verify")
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert any(line.startswith("FAILED at position 3: altered") for line in lines)
    assert lines[-1] == "  also: " + NOT_CHAINED.format(n=total - events, total=total).split(
        ": ", 1)[1]


def test_verify_without_a_key_names_the_file_and_keygen(tmp_path: Path) -> None:
    ingest(tmp_path, "D-1")
    result = dealflow(tmp_path, "audit", "verify")
    assert result.returncode == 2
    assert result.stdout.splitlines() == [
        "error: no public key file dealflow-audit.key.pub (nor its signing key "
        "dealflow-audit.key): create the key pair with `dealflow audit keygen`, or pass "
        "--public-key FILE"]
    result = dealflow(tmp_path, "audit", "verify", "--public-key", "auditor.pub")
    assert (result.returncode, result.stdout.splitlines()) == (
        2, ["error: auditor.pub: no public key file"])
    result = dealflow(tmp_path, "audit", "checkpoint")
    assert (result.returncode, result.stdout.splitlines()) == (2, [
        "error: dealflow-audit.key: no signing key (create one with `dealflow audit keygen` "
        "or set DEALFLOW_AUDIT_KEY)"])
    assert sorted(p.name for p in tmp_path.glob("dealflow-audit.key*")) == []


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_follow_creates_the_key_when_asked(tmp_path: Path) -> None:
    ingest(tmp_path, "D-1")
    # Ctrl-C's default action in the child even when this run was started in the background,
    # where a shell hands SIGINT down ignored (Python then installs no KeyboardInterrupt).
    follower = subprocess.Popen([DEALFLOW, "audit", "follow", "--create-key"], cwd=tmp_path,
                                env=environment(), stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True,
                                preexec_fn=_default_sigint)
    assert follower.stdout is not None
    lines = []
    for line in follower.stdout:  # up to "following ..." (printed once it runs)
        lines.append(line.rstrip("\n"))
        if line.startswith("following "):
            break
    follower.send_signal(signal.SIGINT)
    rest, _ = follower.communicate(timeout=60)
    assert follower.returncode == 0, "\n".join(lines) + rest
    assert lines[0].startswith("signing key dealflow-audit.key (keep it secret), public key "
                               "dealflow-audit.key.pub (give it to auditors); key id ")
    assert "no signing key" not in "\n".join(lines)
    assert (tmp_path / "dealflow-audit.key").is_file()
    assert (tmp_path / "dealflow-audit.key.pub").is_file()

    assert dealflow(tmp_path, "audit", "checkpoint").returncode == 0
    result = dealflow(tmp_path, "audit", "verify")
    assert (result.returncode, result.stdout.splitlines()[-1]) == (0, OK)
    again = dealflow(tmp_path, "audit", "keygen")  # the key is never silently replaced
    assert again.returncode == 2 and "a key already exists" in again.stdout
