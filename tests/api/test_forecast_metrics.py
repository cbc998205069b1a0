"""/metrics exports the forecast rollups of the current and the next quarter per team, read
from the forecast view as of now (quarters in Asia/Shanghai), labelled ``current``/``next``
rather than by period; on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from engine.serve.tokens import Role
from tests.api.conftest import Api
from tests.engine.facts import fact, opened

SHANGHAI = ZoneInfo("Asia/Shanghai")


def _quarter_ends(today: date) -> tuple[date, date]:
    """The last day of today's quarter and the first day of the next one."""
    month = (today.month - 1) // 3 * 3 + 4
    first_next = date(today.year + (month > 12), (month - 1) % 12 + 1, 1)
    return first_next - timedelta(days=1), first_next


def test_forecast_rollups_of_the_current_and_next_quarter(api: Api) -> None:
    now = datetime.now(UTC)
    last_day, next_day = _quarter_ends(now.astimezone(SHANGHAI).date())
    yesterday = (now - timedelta(days=1)).isoformat()
    facts = [
        fact("rep.profile_set", "rep-a", {"team": "east"}, time=yesterday),
        opened("F-1", owner="rep-a", amount="1000.00", expected_close=last_day.isoformat(),
               time=yesterday),
        opened("F-2", owner="rep-z", amount="500.00", expected_close=next_day.isoformat(),
               time=yesterday),
        fact("deal.forecast_set", "F-2", {"category": "commit"}, time=yesterday),
    ]
    with api.client(Role.ADMIN) as client:
        done = client.post("/v1/facts/batch?wait=true", json=facts).json()
        assert done["accepted"] == len(facts)
    m = api.metrics()
    rollups = {k: v for k, v in m.items() if k.startswith("dealflow_forecast_rollup_amount")}
    assert rollups == {
        f'dealflow_forecast_rollup_amount{{currency="CNY",quarter="{q}",rollup="{r}",'
        f'team="{team}"}}': value
        for q, team, values in (("current", "east", (0, 0, 1000)),
                                ("next", "no team", (500, 500, 500)))
        for r, value in zip(("commit", "best_case", "pipeline"), values, strict=True)
    }
