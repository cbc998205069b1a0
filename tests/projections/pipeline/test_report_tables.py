"""The pipeline report's tables as a person reads them at 80 columns: the one money,
percent and time format, and no identifier cut (the report built from its rows)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from projections.pipeline import PipelineReport
from projections.pipeline.analytics import StageFlow, StageTime
from projections.pipeline.report import CloseDateRow, OpenRow, OutcomeRow
from tests.cli.tables import MONEY, assert_readable, column_text

STAGE = "needs_analysis_with_procurement_review"  # longer than an 80-column cell


def _report() -> PipelineReport:
    big = OpenRow("enterprise", STAGE, "rep-12", "team-north", "CNY", 73,
                  Decimal("13732703.09"), Decimal("10986162.47"))
    small = OpenRow("standard", "lead", "rep-01", None, "USD", 1, Decimal("800.5"),
                    Decimal("40.03"))
    return PipelineReport(
        title="Pipeline", as_of=datetime.fromisoformat("2026-03-31T23:59:59.999999+08:00"),
        known_at=None, source="current", period="quarter", open=[big, small],
        outcomes=[OutcomeRow("standard", "rep-01", "team-north", "CNY", 10,
                             Decimal("3409000"), 1, Decimal("43400"), 6, Decimal("2664000"))],
        conversion=[StageFlow("enterprise", STAGE, 126, 116, 5, 5),
                    StageFlow("standard", "lead", 0, 0, 0, 0)],
        time_in_stage=[StageTime("enterprise", STAGE, 121, Decimal("257824"), None)],
        by_close_date=[CloseDateRow("2026-Q2", "CNY", 207, Decimal("20522198.11"),
                                    Decimal("43295191.2"))],
        rollups={"stage": [big, small], "team": [big, small]})


def test_every_table_reads_at_80_columns() -> None:
    for table in _report().tables():
        assert_readable(table)  # no "…", no line over 80, every cell whole in its column


def test_money_percent_and_time_formats() -> None:
    by_stage, by_team, by_owner, outcomes, conversion, times, forecast = _report().tables()
    assert by_stage.title == "Open pipeline by stage, as of 2026-03-31 23:59 +08:00"
    assert [str(c) for c in by_team.columns[1].cells] == ["team-north", "-"]  # no team
    cells = [list(map(str, column.cells)) for column in by_owner.columns]
    assert [c.header for c in by_owner.columns] == [
        "workflow", "stage", "owner", "deals", "amount", "weighted"]
    assert cells[4] == ["13,732,703.09 CNY", "800.50 USD"]
    assert cells[5] == ["10,986,162.47 CNY", "40.03 USD"]
    assert all(MONEY.match(c) for c in cells[4] + cells[5])
    assert [str(c) for c in outcomes.columns[3].cells] == ["3,409,000.00 CNY\n10 deals"]
    flows = [[str(c) for c in column.cells] for column in conversion.columns]
    assert flows[3] == ["116 (92.06 %)", "0"] and flows[4] == ["5 (3.97 %)", "0"]
    assert [str(c) for c in times.columns[3].cells] == ["2d 23:37:04"]
    assert [str(c) for c in times.columns[4].cells] == ["-"]
    assert [str(c) for c in forecast.columns[3].cells] == ["43,295,191.20 CNY"]


def test_a_long_stage_folds_whole() -> None:
    text = assert_readable(_report().tables()[2])
    assert STAGE not in text  # too long for its cell at 80 columns ...
    assert STAGE in column_text(text, 1)  # ... so folded, every character kept
