"""The forecast report's tables read at 80 columns (no cell cut, every value whole)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from projections.forecast.report import ForecastReport, ForecastRow, NoCloseDate
from tests.cli.tables import assert_readable


def test_every_table_reads_at_80_columns() -> None:
    big = Decimal("123456789.125")
    rows = [ForecastRow("rep", "rep-01-with-a-long-id", "team-north", "CNY", 207, big, big,
                        big, big, big, Decimal("98765432.1234")),
            ForecastRow("team", "team-north", None, "CNY", 207, big, big, big, big, big, big),
            ForecastRow("unassigned", "unassigned", None, "USD", 1, closed=Decimal("5")),
            ForecastRow("total", "total", None, "CNY", 208, big, big, big, big, big, big)]
    report = ForecastReport("2026-Q2", datetime.fromisoformat("2026-06-30T23:59:59+08:00"),
                            None, "Asia/Shanghai", rows, [NoCloseDate("CNY", 3, big)])
    for table in report.tables():
        assert_readable(table)  # no "…", no line over 80, every cell whole in its column
    assert [t.title for t in report.tables()] == [
        "Forecast 2026-Q2 by category (as of 2026-06-30 23:59 +08:00)",
        "Forecast 2026-Q2: weighted and rollups", "Open deals with no close date (in no period)"]
