"""The default quarter looks like a sales quarter: size, team, workflows, money, times."""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from tests.demo.conftest import DEALS, Quarter
from tests.demo.reference import instant

SHANGHAI = timezone(timedelta(hours=8))
ENVELOPE = ("id", "type", "source", "time", "subject", "data")
TWO_DECIMALS = re.compile(r"^\d+\.\d{2}$")


def test_size_is_about_twelve_lines_per_deal(quarter: Quarter) -> None:
    assert 50_000 <= len(quarter.lines) <= 70_000
    assert quarter.counts.deals_started == DEALS


def test_counts_match_the_labels(quarter: Quarter) -> None:
    labels = Counter(line.category for line in quarter.lines)
    counts = quarter.counts
    assert (counts.good, counts.duplicates, counts.bad) == (
        labels["good"], labels["duplicate"], labels["bad"])
    assert counts.late == sum(line.late for line in quarter.lines)
    assert counts.bad_by_class == Counter(line.bad_class for line in quarter.lines
                                          if line.category == "bad")
    assert counts.lines == len(quarter.lines)


def test_noise_is_a_few_percent_of_each_kind(quarter: Quarter) -> None:
    total = len(quarter.lines)
    counts = quarter.counts
    for share in (counts.duplicates / total, counts.late / total, counts.bad / total):
        assert 0.005 < share < 0.06


def test_every_meant_valid_line_is_a_json_object_with_the_envelope(quarter: Quarter) -> None:
    for line in quarter.lines:
        if line.category == "bad":
            continue
        obj = json.loads(line.raw)
        assert all(isinstance(obj[name], str) and obj[name] for name in ENVELOPE[:5]), obj
        assert isinstance(obj["data"], dict)
        assert len(obj["id"]) <= 128
        assert instant(obj).utcoffset() is not None


def test_good_ids_are_unique_per_source(quarter: Quarter) -> None:
    keys = [(o["source"], o["id"]) for o in quarter.good]
    assert len(keys) == len(set(keys))


def test_reps_quotas_and_plans(quarter: Quarter) -> None:
    good = quarter.good
    quotas = [o for o in good if o["type"] == "rep.quota_set"]
    plans = [o for o in good if o["type"] == "rep.plan_assigned"]
    reps = {f"rep-{n:02d}" for n in range(1, 13)}
    assert {o["subject"] for o in quotas} == reps
    assert {o["subject"] for o in plans} == reps
    assert {o["data"]["plan"] for o in plans} == {"standard-2026"}
    assert {o["data"]["team"] for o in quotas} == {"team-north", "team-south"}
    periods = Counter(o["data"]["period"] for o in quotas)
    assert periods["2026-Q1"] >= 10
    assert {"2026-01", "2026-02", "2026-03"} <= set(periods)
    first_deal = min(instant(o) for o in good if o["type"] == "deal.opened")
    assert max(instant(o) for o in plans) < first_deal


def test_deals_mix_workflows_currencies_segments_and_splits(quarter: Quarter) -> None:
    opened = [o["data"] for o in quarter.good if o["type"] == "deal.opened"]
    assert len(opened) == DEALS
    workflows = Counter(d["workflow"] for d in opened)
    assert 0.15 < workflows["channel"] / DEALS < 0.25
    assert all(d["partner"].startswith("partner-") for d in opened if d["workflow"] == "channel")
    currencies = Counter(d["currency"] for d in opened)
    assert currencies["CNY"] > 0.8 * DEALS and currencies["USD"] > 0.05 * DEALS
    assert set(Counter(d["segment"] for d in opened)) == {"high_value", "potential", "ordinary"}
    split = [d for d in opened if "splits" in d]
    assert 0.05 * DEALS < len(split) < 0.15 * DEALS
    for deal in split:
        shares = deal["splits"]
        assert shares[0]["rep"] == deal["owner"] != shares[1]["rep"]
        assert sum(Decimal(s["share"]) for s in shares) == 1


def test_amounts_are_two_decimal_strings(quarter: Quarter) -> None:
    for obj in quarter.good:
        for name in ("amount", "refund_amount"):
            if name in obj["data"]:
                assert TWO_DECIMALS.match(obj["data"][name]), obj


def test_times_are_mostly_shanghai_business_hours_within_the_quarter(quarter: Quarter) -> None:
    good = quarter.good
    start = datetime(2026, 1, 1, tzinfo=SHANGHAI)
    end = datetime(2026, 4, 1, tzinfo=SHANGHAI)
    local = [o for o in good if o["time"].endswith("+08:00")]
    utc = [o for o in good if o["time"].endswith("Z")]
    assert len(local) + len(utc) == len(good)
    assert 0.8 * len(good) < len(local) < 0.99 * len(good)
    in_hours = [t for t in map(instant, good)
                if t.astimezone(SHANGHAI).weekday() < 5 and 9 <= t.astimezone(SHANGHAI).hour < 18]
    assert len(in_hours) > 0.85 * len(good)
    after = [o for o in good if not start <= instant(o) < end]
    assert all(o["type"] == "contract.cancelled" for o in after)
    assert all(instant(o) < end + timedelta(days=20) for o in after)


def test_every_type_of_the_contract_occurs(quarter: Quarter) -> None:
    types = Counter(o["type"] for o in quarter.good)
    assert len(types) >= 21  # version 1's 18 and the 1.1 forecast types
    assert types["deal.forecast_set"] >= 100
    assert types["deal.expected_close_changed"] >= 100
    assert types["forecast.submitted"] >= 20
    categories = {o["data"]["category"] for o in quarter.good if o["type"] == "deal.forecast_set"}
    assert categories == {"pipeline", "best_case", "commit", "omitted", "auto"}
    assert types["contract.cancelled"] >= 5
    assert types["deal.reopened"] >= 20
    assert types["survey.responded"] >= 100
    scores = {o["data"]["score"] for o in quarter.good if o["type"] == "survey.responded"}
    assert scores == {1, 2, 3, 4, 5}


def test_sources_follow_the_type(quarter: Quarter) -> None:
    pairs = {(o["type"], o["data"].get("kind"), o["source"]) for o in quarter.good}
    expected_source = {
        ("activity.logged", "call"): "telephony",
        ("activity.logged", "email"): "mail-gateway",
        ("contract.signed", None): "esign",
        ("payment.received", None): "billing",
        ("survey.responded", None): "survey-tool",
        ("deal.registration_approved", None): "partner-portal",
    }
    for fact_type, kind, source in pairs:
        assert expected_source.get((fact_type, kind), source) == source
    assert {source for _, _, source in pairs} == {
        "crm-web", "telephony", "mail-gateway", "esign", "billing", "survey-tool",
        "partner-portal"}


def test_actor_is_mostly_a_rep(quarter: Quarter) -> None:
    good = quarter.good
    by_rep = sum(1 for o in good if o.get("actor", "").startswith("rep-"))
    assert by_rep > 0.8 * len(good)
