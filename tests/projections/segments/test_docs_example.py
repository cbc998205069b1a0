"""docs/segments.md's worked example through ingest -> segments view -> report, on SQLite
and PostgreSQL: every row of the documented table; as known at a time; rebuild equals
live."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from engine.bootstrap import Engine
from projections.formatting import count, moment, percent
from projections.report import ReportParams
from projections.segments import SegmentsProjection, build_report
from tests.engine.conftest import send
from tests.engine.facts import STANDARD_PATH, fact, opened

DOC = Path(__file__).parents[3] / "docs" / "segments.md"
AS_OF = datetime.fromisoformat("2026-07-01T00:00:00+08:00")
#: deal, account, signed (+08:00), amount, currency, cancelled (+08:00) as the docs list them.
DEALS = [
    ("S-1", "acme", "2026-03-10T10:00", "50000.00", "CNY", None),
    ("S-2", "acme", "2026-05-20T10:00", "20000.00", "CNY", None),
    ("S-3", "globex", "2026-02-01T10:00", "15000.00", "CNY", None),
    ("S-4", "initech", "2026-04-15T10:00", "10000.00", "CNY", None),
    ("S-5", "initech", "2025-07-01T00:00", "30000.00", "CNY", None),
    ("S-6", "umbrella", "2026-01-10T10:00", "5000.00", "CNY", None),
    ("S-7", "umbrella", "2026-03-01T10:00", "8000.00", "CNY", "2026-04-01T10:00"),
    ("S-8", "hooli", "2026-06-01T10:00", "40000.00", "CNY", "2026-06-15T10:00"),
    ("S-9", "stark", "2026-07-01T00:00", "9000.00", "USD", None),
    ("S-10", "wayne", "2026-05-05T10:00", "1000.00", "USD", None),
]


def signed_deal(subject: str, account: str, signed: str, amount: str, currency: str,
                cancelled: str | None) -> list[dict[str, Any]]:
    """The deal opened 30 days before its signing, walked to negotiation, signed."""
    at = datetime.fromisoformat(signed + ":00+08:00")
    start = at - timedelta(days=30)
    facts = [opened(subject, account=account, currency=currency, amount=amount,
                    time=start.isoformat())]
    for n, (kind, data) in enumerate(STANDARD_PATH[:-1]):
        facts.append(fact(kind, subject, data, time=(start + timedelta(minutes=n + 1))
                          .isoformat()))
    facts.append(fact("contract.signed", subject, {"amount": amount, "currency": currency},
                      time=at.isoformat()))
    if cancelled is not None:
        facts.append(fact("contract.cancelled", subject, {"reason": "refund"},
                          time=cancelled + ":00+08:00"))
    return facts


def documented_rows() -> list[list[str]]:
    """The report table of docs/segments.md, cells as written."""
    text = DOC.read_text(encoding="utf-8")
    table = text.split("| currency | rank | account |", 1)[1].split("\n\n", 1)[0]
    return [[c.strip() for c in line.strip("|").split("|")]
            for line in table.splitlines()[2:] if line.startswith("|")]


def report_rows(engine: Engine, params: ReportParams) -> list[list[str]]:
    runner = engine.runner([SegmentsProjection.name])
    runner.catch_up()
    view = runner.live[SegmentsProjection.name]
    assert isinstance(view, SegmentsProjection)
    with engine.sql.connect() as conn:
        report = build_report(conn, view, params)
    runner.stop()
    return [[a.currency, str(a.rank), a.account, a.tier, f"{a.credit:,.2f}", count(a.deals),
             percent(a.share_before), moment(a.last_signed_at, "Asia/Shanghai")]
            for a in report.accounts]


def test_the_documented_example(engine: Engine) -> None:
    facts = [f for deal in DEALS for f in signed_deal(*deal)]
    result = send(engine, *facts)
    assert result.counts().rejected == {}, result.counts()
    assert report_rows(engine, ReportParams(AS_OF)) == documented_rows()
    assert re.search(r"window is\s+\(2025-07-01 00:00 \+08:00, 2026-07-01 00:00 \+08:00\]",
                     DOC.read_text(encoding="utf-8"))


def test_one_microsecond_earlier_the_boundaries_move(engine: Engine) -> None:
    send(engine, *[f for deal in DEALS for f in signed_deal(*deal)])
    rows = report_rows(engine, ReportParams(AS_OF - timedelta(microseconds=1)))
    by_account = {row[2]: row for row in rows}
    # S-9 (signed exactly at T) is not yet signed; S-5 is inside the window now.
    assert "stark" not in by_account
    assert by_account["wayne"][3] == "high_value"
    assert by_account["initech"][4:6] == ["40,000.00", "2"]


def test_as_known_at_and_rebuild(engine: Engine) -> None:
    send(engine, *[f for deal in DEALS[:8] for f in signed_deal(*deal)])
    known = datetime.now(AS_OF.tzinfo)
    send(engine, *[f for deal in DEALS[8:] for f in signed_deal(*deal)])
    earlier = report_rows(engine, ReportParams(AS_OF, known_at=known))
    assert {row[0] for row in earlier} == {"CNY"}
    runner = engine.runner([SegmentsProjection.name])
    runner.catch_up()
    view = runner.live[SegmentsProjection.name]

    def dump() -> list[list[tuple[Any, ...]]]:
        live = runner.live[SegmentsProjection.name]
        with engine.sql.connect() as conn:
            return [sorted(tuple(r) for r in conn.execute(select(t)))
                    for t in live.metadata.sorted_tables]

    before = dump()
    assert view.generation in ("a", "b")
    runner.rebuild()
    assert dump() == before
    runner.stop()
