"""The conventions of docs/cli.md on the commands that lacked them: --json envelopes on
``rejects`` and ``token list``, ``ingest -`` from standard input, defaults in --help, exit 2
for what does not exist, and a listing cut by --limit says how to get the next page.
Through the installed ``dealflow`` console script."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from tests.cli.helpers import DEALFLOW, dealflow, environment
from tests.engine.facts import fact, opened, raw


def lines() -> list[bytes]:
    """Two deals, and four inputs refused for three reasons."""
    return [raw(opened("D-1")), raw(opened("D-2")),
            raw(fact("deal.stage_changed", "D-1", {"to": "won"})),
            raw(fact("deal.stage_changed", "D-2", {"to": "won"})),
            b"{oops",
            raw(fact("deal.amount_changed", "D-1", {"amount": "x", "currency": "CNY"}))]


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder whose ./dealflow.db was filled through ``ingest -`` (standard input)."""
    here = tmp_path_factory.mktemp("conventions")
    done = subprocess.run([DEALFLOW, "ingest", "-", "--quiet"], cwd=here,
                          env=environment(), input=b"\n".join(lines()) + b"\n",
                          capture_output=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    text = " ".join(done.stdout.decode().split())
    assert "inputs │ 6" in text and "accepted │ 2" in text and "rejected │ 4" in text
    return here


def test_ingest_reads_standard_input(folder: Path) -> None:
    listed = json.loads(dealflow(folder, "rejects", "--json").stdout)
    assert [r["origin"] for r in listed["rejections"]] == [
        "stdin:3", "stdin:4", "stdin:5", "stdin:6"]


def test_ingest_of_a_missing_file_exits_2(tmp_path: Path) -> None:
    done = dealflow(tmp_path, "ingest", "nope.jsonl")
    assert done.returncode == 2
    assert done.stdout.splitlines() == [
        "error: no file nope.jsonl (name a JSONL file, or - to read standard input)"]
    assert not list(tmp_path.iterdir())


def test_rejects_json_is_in_the_envelope(folder: Path) -> None:
    done = dealflow(folder, "rejects", "--json")
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert list(document)[:3] == ["kind", "as_of", "known_at"]
    assert (document["kind"], document["as_of"], document["known_at"]) == (
        "rejects", None, None)
    assert document["total"] == 4 and document["next_after"] is None
    assert document["by_reason"] == {"invalid:(body)": 1, "invalid:data.amount": 1,
                                     "stage_jump": 2}
    first = document["rejections"][0]
    assert {k: first[k] for k in ("seq", "reason", "source", "type", "subject")} == {
        "seq": 1, "reason": "stage_jump", "source": "crm-web", "type": "deal.stage_changed",
        "subject": "D-1"}
    assert json.loads(first["input"])["data"] == {"to": "won"}
    assert first["recorded_at"].endswith("+00:00")


def test_a_cut_listing_names_the_next_page(folder: Path) -> None:
    page = dealflow(folder, "rejects", "--limit", "3")
    assert page.returncode == 0
    assert page.stdout.splitlines()[-1] == "more after #3: dealflow rejects --limit 3 --after 3"
    last = dealflow(folder, "rejects", "--limit", "3", "--after", "3")
    assert "more after" not in last.stdout and "invalid:data.amount" in last.stdout
    as_json = json.loads(dealflow(folder, "rejects", "--limit", "1", "--reason",
                                  "stage_jump", "--json").stdout)
    assert (as_json["total"], as_json["next_after"], len(as_json["rejections"])) == (2, 1, 1)
    raw_page = dealflow(folder, "rejects", "--limit", "2", "--raw")
    assert len(raw_page.stdout.splitlines()) == 2  # standard output stays pure JSONL
    assert "more after #2: dealflow rejects --limit 2 --raw --after 2" in raw_page.stderr


def test_a_reason_no_rejection_has_is_said_with_the_stored_ones(folder: Path) -> None:
    done = dealflow(folder, "rejects", "--reason", "closed_deal")
    assert done.returncode == 0
    assert done.stdout.splitlines() == [
        "no rejection has reason closed_deal; the stored reasons: invalid:(body), "
        "invalid:data.amount, stage_jump"]
    wrong = dealflow(folder, "rejects", "--reason", "Stage Jump!")
    assert wrong.returncode == 2
    assert wrong.stdout.startswith("error: unknown reason 'Stage Jump!': a reason is a rule ")


def test_token_list_json_is_in_the_envelope(tmp_path: Path) -> None:
    made = dealflow(tmp_path, "token", "create", "--role", "viewer", "--name", "grafana")
    assert made.returncode == 0, made.stdout + made.stderr
    document = json.loads(dealflow(tmp_path, "token", "list", "--json").stdout)
    assert (document["kind"], document["as_of"], document["known_at"]) == (
        "tokens", None, None)
    [token] = document["tokens"]
    assert (token["name"], token["role"], token["revoked_at"]) == ("grafana", "viewer", None)
    assert set(token) == {"id", "name", "role", "created_at", "revoked_at"}


@pytest.mark.parametrize(("command", "message"), [
    (["workflow", "show", "nope"], "unknown workflow 'nope'"),
    (["workflow", "diagram", "nope"], "unknown workflow 'nope'"),
    (["workflow", "show", "standard", "--version", "99"], "has no version 99"),
    (["report", "nope"], "unknown report 'nope'"),
])
def test_what_does_not_exist_exits_2(folder: Path, command: list[str], message: str) -> None:
    done = dealflow(folder, *command)
    assert done.returncode == 2, done.stdout + done.stderr
    assert message in done.stdout + done.stderr


def _help(*command: str) -> str:
    done = dealflow(Path("."), *command, "--help", COLUMNS="200")
    assert done.returncode == 0, done.stderr
    return " ".join(done.stdout.split())


@pytest.mark.parametrize(("command", "defaults"), [
    (["serve"], ["[default: $DEALFLOW_API_HOST or 127.0.0.1]",
                 "[default: $DEALFLOW_API_PORT or 8080]",
                 "[default: $DEALFLOW_DB or sqlite:///dealflow.db]"]),
    (["ingest"], ["[default: $DEALFLOW_BATCH_SIZE or 1000]",
                  "[default: $DEALFLOW_WORKERS, or"]),
    (["consume"], ["[default: 1000]", "[default: dealflow-ingest]",
                   "[default: $DEALFLOW_KAFKA_BOOTSTRAP or 127.0.0.1:9092]"]),
    (["rejects"], ["[default: 50]", "[default: 0]"]),
    (["report"], ["[default: now]", "[default: all]"]),
    (["audit", "prove"], ["[default: the latest stored]"]),
])
def test_help_shows_the_defaults(command: list[str], defaults: list[str]) -> None:
    shown = _help(*command)
    for default in defaults:
        assert default in shown, (default, shown)


def test_ingest_help_points_at_the_contract_in_the_repository() -> None:
    shown = _help("ingest")
    assert "CONTRACT.md" not in shown
    assert re.search(r"docs/contract\.md", shown)
    assert (Path(__file__).parents[2] / "docs" / "contract.md").is_file()
