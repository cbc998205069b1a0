"""Human output (docs/cli.md): one format per kind of value (projections.formatting), and
tables that never cut a value, checked on the helpers, on random tables at any width, and on
every report printed by the real console script in an 80-column terminal."""

from __future__ import annotations

import os
import pty
import re
import subprocess
import termios
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import hypothesis.strategies as st
import orjson
import pytest
from hypothesis import given, settings

from projections.formatting import (
    ReportTable,
    count,
    duration,
    lines,
    moment,
    money,
    moneys,
    percent,
)
from projections.registry import REPORTS
from tests.cli.helpers import DEALFLOW, dealflow, environment
from tests.cli.tables import MOMENT, MONEY, PERCENT, assert_readable, columns_shown, render
from tests.engine.facts import STANDARD_PATH, fact, opened


@pytest.mark.parametrize(("amount", "currency", "shown"), [
    ("12500", "CNY", "12,500.00 CNY"),
    ("1234567.891", "USD", "1,234,567.89 USD"),
    ("121000.095", "CNY", "121,000.10 CNY"),  # half up, not half even
    ("-651", "CNY", "-651.00 CNY"),
    ("-0.001", "EUR", "0.00 EUR"),  # no negative zero
    ("0.5", "JPY", "0.50 JPY"),
])
def test_money(amount: str, currency: str, shown: str) -> None:
    assert money(Decimal(amount), currency) == shown


def test_several_currencies_and_none() -> None:
    assert moneys({"USD": Decimal("5"), "CNY": Decimal("7200")}) == "7,200.00 CNY\n5.00 USD"
    assert moneys({}) == "-"
    assert money(None, "CNY") == "-"
    assert lines([]) == "-"


@pytest.mark.parametrize(("ratio", "shown"), [
    ("1.2498", "124.98 %"), ("0.0720", "7.20 %"), ("0.05", "5.00 %"), ("1", "100.00 %"),
    ("0.333333", "33.33 %"), ("0.000049", "0.00 %"), ("12.5", "1,250.00 %"),
])
def test_percent(ratio: str, shown: str) -> None:
    assert percent(Decimal(ratio)) == shown
    assert percent(None) == "-"


def test_moment_in_the_zone_the_report_is_about() -> None:
    at = datetime(2026, 3, 31, 10, 0, tzinfo=UTC)
    assert moment(at, "Asia/Shanghai") == "2026-03-31 18:00 +08:00"
    assert moment(at, "America/New_York") == "2026-03-31 06:00 -04:00"
    assert moment(at) == "2026-03-31 10:00 +00:00"
    india = timezone(timedelta(hours=5, minutes=30))
    assert moment(at.astimezone(india)) == "2026-03-31 15:30 +05:30"
    assert moment(None, "Asia/Shanghai") == "-"
    with pytest.raises(ValueError, match="naive"):
        moment(datetime(2026, 3, 31, 10, 0))


def test_duration_and_count() -> None:
    assert duration(Decimal("273906")) == "3d 04:05:06"
    assert duration(Decimal("27137.9")) == "07:32:17"
    assert duration(None) == "-"
    assert count(1154) == "1,154"


def test_a_table_that_fits_is_rich_s_own_layout() -> None:
    table = ReportTable("t", "rule", "total", numbers=("total",))
    table.add_cells("first_contact", "1,154")
    assert table.fit(80) is None
    assert render(table).splitlines()[4] == "│ first_contact │ 1,154 │"


def test_amounts_wrap_before_identifiers_fold() -> None:
    table = ReportTable("Open pipeline by owner", "workflow", "stage", "owner", "deals",
                        "amount", "weighted", numbers=("deals", "amount", "weighted"))
    table.add_cells("enterprise", "needs_analysis", "rep-12", "6", "13,021,781.00 CNY",
                    "10,417,424.80 CNY")
    text = assert_readable(table)
    assert "needs_analysis" in text and "13,021,781.00" in text  # neither folded
    assert re.search(r"│\s+CNY │\s+CNY │$", text, re.MULTILINE)  # the codes went below


def test_an_identifier_too_long_for_the_terminal_folds_whole() -> None:
    fact_type = "deal.customer_info_captured_by_the_partner_portal_and_confirmed"
    table = ReportTable("Rejections", "type", "count", numbers=("count",))
    table.add_cells(fact_type, "1,005")
    text = assert_readable(table, width=40)
    assert fact_type not in text  # folded over lines: still all there, no "…"


_CELL = st.text(alphabet="abcdefghij-_./@0123456789 ,", min_size=0, max_size=45)


@given(headers=st.lists(st.text(alphabet="abcdefgh ", min_size=1, max_size=12).map(
           str.strip).filter(bool), min_size=1, max_size=9, unique=True),
       data=st.data(), width=st.integers(min_value=40, max_value=200))
@settings(max_examples=150, deadline=None)
def test_no_table_is_ever_cut_or_too_wide(headers: list[str], data: st.DataObject,
                                          width: int) -> None:
    numbers = data.draw(st.sets(st.sampled_from(headers)))
    table = ReportTable("a table", *headers, numbers=numbers)
    for _ in range(data.draw(st.integers(min_value=0, max_value=4))):
        table.add_cells(*(data.draw(_CELL) for _ in headers))
    # 40 columns leave room for content beside the borders and padding of 9 columns.
    assert_readable(table, width)


# --- every report, through the console script, in an 80-column terminal -----------------

SUBJECT = "ACME-ENTERPRISE-RENEWAL-2026-000001"  # longer than any 80-column cell


def _facts() -> list[dict[str, object]]:
    won = [opened(SUBJECT, owner="rep-07", amount="1250000.00",
                  time="2026-01-05T10:00:00+08:00")]
    signed = {"amount": "1250000.00", "currency": "CNY"}
    won += [fact(t, SUBJECT, signed if t == "contract.signed" else data,
                 time=f"2026-01-{6 + i:02d}T10:00:00+08:00")
            for i, (t, data) in enumerate(STANDARD_PATH)]
    return [fact("rep.quota_set", "rep-07", {"period": "2026-Q1", "amount": "1000000.00",
                                             "currency": "CNY", "team": "enterprise-east"},
                 time="2026-01-01T09:00:00+08:00"),
            *won, opened("C-2", owner="rep-08", amount="98765.43", currency="USD",
                         time="2026-01-05T10:00:00+08:00"),
            # Version 1.1: a routed deal closing in the quarter, and a forecast call.
            fact("rep.profile_set", "rep-09", {"team": "east"},
                 time="2026-01-01T09:00:00+08:00"),
            fact("forecast.submitted", "rep-07", {"period": "2026-Q1", "amount": "1000000.00",
                                                  "currency": "CNY"},
                 time="2026-01-02T09:00:00+08:00"),
            opened("C-3", owner=None, amount="50000.00", currency="EUR",
                   expected_close="2026-03-20", time="2026-01-10T10:00:00+08:00")]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("human")
    (folder / "facts.jsonl").write_bytes(b"\n".join(orjson.dumps(f) for f in _facts()) + b"\n")
    done = dealflow(folder, "ingest", "facts.jsonl", "-q")
    assert done.returncode == 0, done.stdout + done.stderr
    return folder


def _in_terminal(folder: Path, *args: str, columns: int = 80) -> str:
    """Run the console script with a terminal of ``columns`` as its standard output."""
    leader, follower = pty.openpty()
    termios.tcsetwinsize(follower, (50, columns))
    try:
        done = subprocess.run([DEALFLOW, *args], cwd=folder, stdout=follower,
                              stderr=subprocess.PIPE, timeout=60, check=False,
                              env=environment(COLUMNS=str(columns), NO_COLOR="1",
                                              TERM="xterm"))
        os.close(follower)
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the terminal closed
                break
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(leader)
    assert done.returncode == 0, done.stderr
    text = b"".join(chunks).decode().replace("\r\n", "\n")
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text)


def _cells(text: str) -> list[str]:
    """Every table cell's text, line by line, in the body rows."""
    return [part.strip() for line in text.splitlines() if line.startswith("│")
            for part in line.split("│")[1:-1]]


#: What each report shows of the store, in the one format of each kind of value.
SHOWN = {
    "pipeline": ["98,765.43 USD", "4,938.27 USD"],  # C-2 in lead, weighted at 5 %
    "sla": ["2026-01-05 10:00 +08:00", "2026-01-06 10:00 +08:00"],  # C-2's first contact
    # 1,000,000 at 5 % and 250,000 at 8 %, and the bonus at 120 %
    "commissions": ["1,000,000.00 CNY", "1,250,000.00 CNY", "125.00 %", "71,000.00 CNY",
                    "1,000.00 CNY bonus", "rate: 250,000.00 CNY x 8.00 %", "20,000.00 CNY"],
    "kpis": ["1,250,000.00 CNY", "1,000,000.00 CNY", "125.00 %", "100.00 %"],
    # rep-07's signing closed in Q1; C-3 routed to rep-09, in the pipeline, C-2 no close date
    "forecast": ["1,250,000.00 CNY", "50,000.00 EUR", "98,765.43 USD"],
    "waterfall": ["50,000.00 EUR"],  # C-3 opened after the quarter began: new
    "accuracy": ["1,000,000.00 CNY", "1,250,000.00 CNY"],  # the call against the actual
    "routing": ["rep-09", "east"],
    "segments": ["1,250,000.00 CNY", "2026-01-16 10:00 +08:00"],
}


@pytest.mark.parametrize("name", list(REPORTS))
def test_every_report_reads_at_80_columns(store: Path, name: str) -> None:
    text = _in_terminal(store, "report", name, "--as-of=2026-03-31")
    assert "…" not in text, text
    assert max(len(line) for line in text.splitlines()) <= 80, text
    cells = _cells(text)
    assert not [c for c in cells if re.search(r"\d\.\d{3,}", c)], text  # no 3-4 decimals
    shown = columns_shown(text)
    for value in [*SHOWN[name], *([SUBJECT] if name in ("sla", "commissions") else [])]:
        assert any("".join(value.split()) in column for column in shown), (value, text)
    zone = {"sla": "(times in Asia/Shanghai)", "commissions": "(times in Asia/Shanghai)",
            "kpis": "(quarters in Asia/Shanghai)", "pipeline": "as of 2026-03-31 23:59 +08:00",
            "forecast": "as of 2026-03-31 23:59 +08:00",
            "waterfall": "to 2026-03-31 23:59 +08:00", "accuracy": "(times in Asia/Shanghai",
            "routing": "as of 2026-03-31 23:59 +08:00", "segments": "(times in Asia/Shanghai)"}
    assert zone[name] in " ".join(text.split()), text


@pytest.mark.parametrize("name", list(REPORTS))
def test_every_report_uses_the_one_format_of_each_value(store: Path, name: str) -> None:
    done = dealflow(store, "report", name, "--as-of=2026-03-31")  # piped: 160 columns
    assert done.returncode == 0, done.stdout + done.stderr
    cells = _cells(done.stdout)
    for value in SHOWN[name]:
        assert value in cells, (value, done.stdout)
    kinds = [MONEY, PERCENT, MOMENT]
    if name != "routing":  # routing shows counts and names only
        assert any(kind.match(c) for c in cells for kind in kinds), done.stdout
    for cell in cells:  # a value with a currency is money; one with a % is a percent
        for value in re.findall(r"[-\d,.]+ [A-Z]{3}\b", cell):
            assert MONEY.match(value), (value, done.stdout)
        for value in re.findall(r"[-\d,.]+ %", cell):
            assert PERCENT.match(value), (value, done.stdout)


def test_json_keeps_its_values_and_adds_attainment_percent(store: Path) -> None:
    kpis = orjson.loads(dealflow(store, "report", "kpis", "--as-of=2026-03-31",
                                 "--json").stdout)
    [rep] = [r for r in kpis["reps"] if r["name"] == "rep-07"]
    assert (rep["attainment"], rep["attainment_percent"]) == ({"CNY": "1.2500"},
                                                              {"CNY": "125.00"})
    commissions = orjson.loads(dealflow(store, "report", "commissions", "--as-of=2026-03-31",
                                        "--json").stdout)
    [statement] = commissions["statements"]
    assert statement["attainment"] == {"credit": "1250000.00", "percent": "125.00"}
    assert statement["quota"]["currency"] == "CNY"
    for name in REPORTS:  # the old top-level keys stay beside the envelope's
        document = orjson.loads(dealflow(store, "report", name, "--as-of=2026-03-31",
                                         "--json").stdout)
        old = {"pipeline": "view", "kpis": "view", "sla": "report", "commissions": "title"}
        assert document["kind"] == f"report.{name}"
        assert name not in old or old[name] in document
