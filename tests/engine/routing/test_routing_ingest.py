"""Routing of deals opened without an owner, through the engine (contract 1.1 routing and
precise rules 1-4), on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from engine.bootstrap import Engine, bootstrap
from engine.domain import Deal, deal_id
from engine.settings import Settings
from tests.engine.conftest import send
from tests.engine.facts import STANDARD_PATH, fact, opened
from tests.engine.routing.helpers import owner_of, profile, routed, unowned


def close_won(subject: str) -> list[dict[str, object]]:
    """The facts that take a deal from ``lead`` to ``won``."""
    return [fact(t, subject, d) for t, d in STANDARD_PATH]


# ------------------------------------------------------------------ eligibility
def test_a_rep_without_profile_is_not_routable(engine: Engine) -> None:
    send(engine, opened("D-0", owner="rep-x"), unowned("D-1"))
    event = routed(engine, "D-1")
    assert (event.owner, event.rule) == (None, None)
    assert event.reason["eligible"] == []


def test_inactive_reps_are_skipped(engine: Engine) -> None:
    send(engine, profile("rep-a", active=False), profile("rep-b"), unowned("D-1"))
    assert routed(engine, "D-1").reason["eligible"] == ["rep-b"]


@pytest.mark.parametrize(
    ("segments", "segment", "eligible"),
    [
        (None, "potential", True),
        (None, None, True),
        (["potential"], "potential", True),
        (["high_value"], "potential", False),
        ([], "potential", False),  # a present empty list matches nothing
        (["potential"], None, False),  # a deal without segment only for absent lists
    ],
)
def test_segments(engine: Engine, segments: list[str] | None, segment: str | None,
                  eligible: bool) -> None:
    data: dict[str, Any] = {} if segments is None else {"segments": segments}
    deal = unowned("D-1") if segment is None else unowned("D-1", segment=segment)
    send(engine, profile("rep-a", **data), deal)
    assert owner_of(engine, "D-1") == ("rep-a" if eligible else None)


@pytest.mark.parametrize(
    ("territories", "territory", "eligible"),
    [
        (None, "north", True),
        (["north", "east"], "north", True),
        (["east"], "north", False),
        ([], "north", False),
        (["north"], None, False),
    ],
)
def test_territories(engine: Engine, territories: list[str] | None, territory: str | None,
                     eligible: bool) -> None:
    data: dict[str, Any] = {} if territories is None else {"territories": territories}
    deal = unowned("D-1") if territory is None else unowned("D-1", territory=territory)
    send(engine, profile("rep-a", **data), deal)
    assert owner_of(engine, "D-1") == ("rep-a" if eligible else None)


def test_capacity_counts_open_deals_the_rep_owns(engine: Engine) -> None:
    send(engine, profile("rep-a", capacity=2), profile("rep-b", capacity=0),
         opened("D-1", owner="rep-a"), unowned("D-2"), unowned("D-3"))
    assert routed(engine, "D-2").owner == "rep-a"
    event = routed(engine, "D-3")
    assert event.owner is None  # rep-a is full (2 open), rep-b's capacity is 0
    # Winning one frees a place: the next deal goes to rep-a again.
    send(engine, *close_won("D-1"), unowned("D-4"))
    assert routed(engine, "D-4").owner == "rep-a"
    assert routed(engine, "D-4").reason["loads"] == {"rep-a": 1}


def test_lost_frees_and_reopened_takes_back_a_place(engine: Engine) -> None:
    send(engine, profile("rep-a", capacity=1), opened("D-1", owner="rep-a"),
         fact("deal.lost", "D-1", {"reason": "price"}), unowned("D-2"))
    assert owner_of(engine, "D-2") == "rep-a"
    send(engine, fact("deal.lost", "D-2", {"reason": "price"}),
         fact("deal.reopened", "D-1", {}), unowned("D-3"))
    assert owner_of(engine, "D-3") is None  # D-1 is open again and holds rep-a's place


def test_only_the_owner_carries_load_not_split_partners(engine: Engine) -> None:
    splits = [{"rep": "rep-a", "share": "0.5"}, {"rep": "rep-b", "share": "0.5"}]
    send(engine, profile("rep-a", capacity=1), profile("rep-b", capacity=1),
         opened("D-1", owner="rep-b", splits=splits), unowned("D-2"))
    event = routed(engine, "D-2")
    assert event.reason["eligible"] == ["rep-a"]
    assert event.owner == "rep-a"


def test_reassignment_moves_the_load_and_ignores_capacity(engine: Engine) -> None:
    send(engine, profile("rep-a", capacity=1), profile("rep-b", capacity=1),
         opened("D-1", owner="rep-a"), opened("D-2", owner="rep-b"),
         fact("deal.reassigned", "D-1", {"owner": "rep-b"}), unowned("D-3"))
    assert owner_of(engine, "D-1") == "rep-b"  # over capacity: manual, allowed
    event = routed(engine, "D-3")
    assert (event.owner, event.reason["loads"]) == ("rep-a", {"rep-a": 0})


# ------------------------------------------------------------------- strategies
def test_round_robin_goes_by_code_point_and_wraps(engine: Engine) -> None:
    send(engine, *(profile(r) for r in ("rep-2", "rep-10", "rep-1")),
         *(unowned(f"D-{i}") for i in range(1, 6)))
    owners = [owner_of(engine, f"D-{i}") for i in range(1, 6)]
    assert owners == ["rep-1", "rep-10", "rep-2", "rep-1", "rep-10"]
    assert routed(engine, "D-1").reason["cursor"] is None
    assert routed(engine, "D-4").reason["cursor"] == "rep-2"


def test_round_robin_cursor_need_not_be_eligible_now(engine: Engine) -> None:
    send(engine, profile("rep-a"), profile("rep-b"), profile("rep-c"), unowned("D-1"),
         unowned("D-2"))
    assert owner_of(engine, "D-2") == "rep-b"
    send(engine, profile("rep-b", time="2026-01-02T09:00:00+08:00", active=False),
         unowned("D-3"))
    assert owner_of(engine, "D-3") == "rep-c"  # the first eligible id after rep-b


def test_least_loaded_breaks_ties_by_id(engine: Engine) -> None:
    send(engine, profile("rep-b"), profile("rep-a"), profile("rep-c"),
         opened("D-0", owner="rep-a"),
         *(unowned(f"H-{i}", segment="high_value") for i in range(1, 5)))
    owners = [owner_of(engine, f"H-{i}") for i in range(1, 5)]
    # Loads a1 b0 c0 -> b; a1 b1 c0 -> c; a1 b1 c1 -> a; a2 b1 c1 -> b.
    assert owners == ["rep-b", "rep-c", "rep-a", "rep-b"]
    event = routed(engine, "H-1")
    assert (event.rule, event.reason["strategy"]) == ("high_value", "least_loaded")
    assert event.reason["loads"] == {"rep-a": 1, "rep-b": 0, "rep-c": 0}


def test_explicit_owners_count_even_without_profile_and_move_no_cursor(engine: Engine
                                                                       ) -> None:
    send(engine, profile("rep-a", capacity=1), opened("D-1", owner="rep-a"),
         opened("D-2", owner="nobody"), unowned("D-3"))
    assert owner_of(engine, "D-3") is None
    send(engine, profile("rep-b"), unowned("D-4"), unowned("D-5"))
    # rep-b is the only eligible rep; the cursor was never moved by the explicit owners.
    assert routed(engine, "D-4").reason["cursor"] is None
    assert routed(engine, "D-5").reason["cursor"] == "rep-b"


def test_high_value_falls_through_to_everyone_without_eligible_rep(engine: Engine) -> None:
    send(engine, profile("rep-a", segments=["potential"]), profile("rep-b"),
         unowned("D-1", segment="high_value"))
    event = routed(engine, "D-1")
    # rep-a refuses high_value; rep-b accepts any segment: high_value's least_loaded picks it.
    assert (event.owner, event.rule) == ("rep-b", "high_value")
    send(engine, profile("rep-b", time="2026-01-02T09:00:00+08:00", segments=["ordinary"]),
         unowned("D-2", segment="high_value"))
    event = routed(engine, "D-2")
    assert (event.owner, event.rule) == (None, None)
    assert event.reason["tried"] == [{"rule": "high_value", "matched": True, "eligible": []},
                                     {"rule": "everyone", "matched": True, "eligible": []}]


def test_other_rules_duplicates_and_rejections_do_not_move_a_cursor(engine: Engine) -> None:
    first = unowned("D-1")
    send(engine, profile("rep-a"), profile("rep-b"), first)
    send(engine, first, unowned("D-1", id_="other"),  # duplicate; a second opening refused
         unowned("H-1", segment="high_value"), unowned("D-2"))
    assert owner_of(engine, "D-1") == "rep-a"
    assert routed(engine, "D-2").reason["cursor"] == "rep-a"
    assert owner_of(engine, "D-2") == "rep-b"


# ------------------------------------------------------------- profiles by time
def test_profile_in_force_is_the_latest_at_or_before_the_deals_time(engine: Engine) -> None:
    send(engine,
         profile("rep-a", time="2026-01-01T09:00:00+08:00", segments=["ordinary"]),
         profile("rep-a", time="2026-01-10T09:00:00+08:00"),  # later than the deal
         unowned("D-1", segment="potential", time="2026-01-05T09:00:00+08:00"),
         unowned("D-2", segment="potential", time="2026-01-10T09:00:00+08:00"))
    assert owner_of(engine, "D-1") is None
    assert owner_of(engine, "D-2") == "rep-a"  # at the profile's own time: in force


def test_profile_ties_by_source_then_id(engine: Engine) -> None:
    at = "2026-01-01T09:00:00+08:00"
    send(engine,
         fact("rep.profile_set", "rep-a", {"team": "t", "active": False}, time=at,
              source="hr", id_="p-2"),
         fact("rep.profile_set", "rep-a", {"team": "t"}, time=at, source="hr", id_="p-1"),
         fact("rep.profile_set", "rep-b", {"team": "t"}, time=at, source="crm", id_="z"),
         fact("rep.profile_set", "rep-b", {"team": "t", "active": False}, time=at,
              source="hr", id_="a"),
         unowned("D-1"))
    assert routed(engine, "D-1").reason["eligible"] == []  # hr/p-2 and hr/a win


def test_a_profile_arriving_late_does_not_revise_a_decision(engine: Engine) -> None:
    send(engine, unowned("D-1", time="2026-01-05T09:00:00+08:00"))
    assert owner_of(engine, "D-1") is None
    # The profile is dated before the deal but received after it: later deals use it,
    # the recorded decision stays.
    send(engine, profile("rep-a", time="2026-01-01T09:00:00+08:00"),
         unowned("D-2", time="2026-01-04T09:00:00+08:00"))
    assert owner_of(engine, "D-1") is None
    assert owner_of(engine, "D-2") == "rep-a"


# ----------------------------------------------------------- unassigned deals
def test_unassigned_deal_gets_an_owner_by_reassignment(engine: Engine) -> None:
    send(engine, profile("rep-a", capacity=1), unowned("D-1", segment="x",
                                                        territory="y"))
    send(engine, profile("rep-b", capacity=5, segments=["z"]))
    assert owner_of(engine, "D-1") == "rep-a"
    send(engine, opened("D-9", owner="rep-c"), unowned("D-2"))
    assert owner_of(engine, "D-2") is None
    send(engine, fact("deal.reassigned", "D-2", {"owner": "rep-c"}))
    events = list(engine.app.events.get(deal_id("D-2")))
    reassigned = events[-1]
    assert isinstance(reassigned, Deal.Reassigned)
    assert (reassigned.from_owner, reassigned.owner) == (None, "rep-c")


def test_opened_without_owner_with_splits_is_routed_and_keeps_the_splits(engine: Engine
                                                                         ) -> None:
    splits = [{"rep": "rep-x", "share": "1"}]
    send(engine, profile("rep-a"), unowned("D-1", splits=splits))
    deal: Deal = engine.app.repository.get(deal_id("D-1"))
    assert deal.owner == "rep-a"
    assert deal.splits is not None and deal.splits[0]["rep"] == "rep-x"


def test_signing_while_unassigned_records_no_owner(engine: Engine) -> None:
    send(engine, unowned("D-1"), *close_won("D-1"))
    signed = [e for e in engine.app.events.get(deal_id("D-1"))
              if isinstance(e, Deal.ContractSigned)]
    assert signed[0].owner is None


def test_routed_event_keeps_the_facts_meta(engine: Engine) -> None:
    send(engine, profile("rep-a"), unowned("D-1"))
    opened_event, routed_event = list(engine.app.events.get(deal_id("D-1")))
    assert isinstance(opened_event, Deal.Opened) and opened_event.owner is None
    assert isinstance(routed_event, Deal.Routed)
    assert (routed_event.source, routed_event.fact_id, routed_event.occurred_at) == (
        opened_event.source, opened_event.fact_id, opened_event.occurred_at)
    assert (routed_event.routing, routed_event.routing_version) == ("default", 1)


# ---------------------------------------------- restart, rebuild, new version
def test_cursor_and_loads_survive_a_restart(make_engine: Callable[..., Engine]) -> None:
    first = make_engine()
    send(first, profile("rep-a", capacity=2), profile("rep-b", capacity=2), unowned("D-1"),
         unowned("D-2"), unowned("D-3"))
    first.close()
    restarted = make_engine()
    send(restarted, unowned("D-4"), unowned("D-5"))
    assert [owner_of(restarted, f"D-{i}") for i in range(1, 6)] == [
        "rep-a", "rep-b", "rep-a", "rep-b", None]  # both full after D-4
    assert routed(restarted, "D-4").reason["cursor"] == "rep-a"


def test_one_engine_per_batch_or_one_batch_gives_the_same_owners(
        make_engine: Callable[..., Engine], tmp_path: Path) -> None:
    facts = [profile("rep-a", capacity=3), profile("rep-b", segments=["high_value"]),
             profile("rep-c", territories=["north"]),
             *(unowned(f"D-{i}", segment=("high_value" if i % 3 == 0 else "ordinary"),
                       territory=("north" if i % 2 else "south")) for i in range(12))]
    engine = make_engine()
    for obj in facts:  # one fact per batch, a new engine (empty cache) every fourth
        send(engine, obj)
        if facts.index(obj) % 4 == 3:
            engine.close()
            engine = make_engine()
    owners = [owner_of(engine, f"D-{i}") for i in range(12)]
    assert owners.count(None) > 0 and len(set(owners)) > 2
    # The same facts in one batch on a fresh SQLite store give the same owners.
    other = bootstrap(Settings(db=f"sqlite:///{tmp_path}/one-batch.db"))
    try:
        send(other, *facts)
        assert [owner_of(other, f"D-{i}") for i in range(12)] == owners
    finally:
        other.close()


def test_a_new_routing_version_starts_its_cursors_afresh(
        make_engine: Callable[..., Engine], tmp_path: Path) -> None:
    first = make_engine()
    send(first, profile("rep-a"), profile("rep-b"), unowned("D-1"))
    assert owner_of(first, "D-1") == "rep-a"
    first.close()
    folder = tmp_path / "defs"
    (folder / "routing").mkdir(parents=True)
    (folder / "routing" / "default.yaml").write_text(
        "name: default\nversion: 2\nrules:\n  - name: everyone\n    strategy: round_robin\n")
    second = make_engine(definitions=folder)
    send(second, unowned("D-2"), unowned("D-3"))
    event = routed(second, "D-2")
    assert (event.routing_version, event.reason["cursor"], event.owner) == (2, None, "rep-a")
    assert owner_of(second, "D-3") == "rep-b"
    assert owner_of(second, "D-1") == "rep-a"  # never revised


def test_rebuilding_the_views_keeps_the_recorded_owners(engine: Engine) -> None:
    send(engine, profile("rep-a"), profile("rep-b"), unowned("D-1"), unowned("D-2"),
         unowned("D-3"))
    runner = engine.runner(["pipeline"])
    runner.catch_up()
    before = _pipeline_owners(engine, runner.live["pipeline"])
    runner.rebuild(["pipeline"])
    after = _pipeline_owners(engine, runner.live["pipeline"])
    assert after == before == {"rep-a": 2, "rep-b": 1}
    runner.close()


def test_the_pipeline_shows_unassigned_deals_without_owner(engine: Engine) -> None:
    send(engine, profile("rep-a", capacity=1), unowned("D-1"), unowned("D-2"))
    runner = engine.runner(["pipeline"])
    runner.catch_up()
    assert _pipeline_owners(engine, runner.live["pipeline"]) == {"rep-a": 1, None: 1}
    runner.close()


def _pipeline_owners(engine: Engine, view: object) -> dict[str | None, int]:
    from projections.pipeline import PipelineProjection, current_pipeline

    assert isinstance(view, PipelineProjection)
    with engine.sql.connect() as conn:
        return {r.owner: r.deals for r in current_pipeline(conn, view)}


def test_two_writers_on_one_store_retry_on_the_book_and_catch_up(
        make_engine: Callable[..., Engine]) -> None:
    one, two = make_engine(), make_engine()
    send(one, profile("rep-a"), profile("rep-b"), profile("rep-c"), unowned("D-1"))
    send(two, unowned("D-2"))  # reads the book from the store: after rep-a comes rep-b
    send(one, unowned("D-3"))  # its cached book is behind: the save conflicts, then retried
    assert one.ingestor.conflicts_retried == 1
    assert [owner_of(one, f"D-{i}") for i in (1, 2, 3)] == ["rep-a", "rep-b", "rep-c"]
    assert routed(one, "D-3").reason["cursor"] == "rep-b"
    send(two, unowned("D-4"))
    assert owner_of(two, "D-4") == "rep-a"  # wraps around; the loads were caught up too
    assert routed(two, "D-4").reason["loads"] == {"rep-a": 1, "rep-b": 1, "rep-c": 1}


def test_a_store_written_before_1_1_starts_its_book_with_the_open_loads(engine: Engine
                                                                        ) -> None:
    import json

    from eventsourcing.persistence import StoredEvent

    for n, owner in enumerate(("rep-a", "rep-a", "rep-b"), start=1):
        v2 = {  # what version 1 wrote: no routing book, Deal.Opened version 2
            "timestamp": {"_type_": "datetime_iso", "_data_": "2026-01-02T03:00:00+00:00"},
            "originator_topic": "dealflow.deal", "class_version": 2, "source": "crm-web",
            "fact_id": f"old-{n}",
            "occurred_at": {"_type_": "datetime_iso", "_data_": "2026-01-02T10:00:00+08:00"},
            "actor": None, "extra": None, "subject": f"OLD-{n}", "workflow": "standard",
            "workflow_version": 1, "stage": "lead", "account": "a", "owner": owner,
            "amount": {"_type_": "decimal_str", "_data_": "5.00"}, "currency": "CNY",
            "expected_close": None, "segment": None, "partner": None, "splits": None,
        }
        engine.app.recorder.insert_events([StoredEvent(
            originator_id=deal_id(f"OLD-{n}"), originator_version=1,
            topic="dealflow.deal.opened", state=json.dumps(v2).encode())])
    send(engine, profile("rep-a", capacity=3), profile("rep-b", capacity=3),
         *(unowned(f"D-{i}", segment="high_value") for i in range(1, 4)))
    # Loads a2 b1 -> b (least loaded); a2 b2 -> a (tie by id); a3 b2 -> b.
    assert [owner_of(engine, f"D-{i}") for i in range(1, 4)] == ["rep-b", "rep-a", "rep-b"]


def test_a_rule_with_team_and_match_takes_only_that_teams_reps(
        make_engine: Callable[..., Engine], tmp_path: Path) -> None:
    folder = tmp_path / "defs"
    (folder / "routing").mkdir(parents=True)
    (folder / "routing" / "default.yaml").write_text(
        "name: default\nversion: 2\nrules:\n"
        "  - {name: east_desk, match: {territory: east, workflow: standard}, team: east,"
        " strategy: least_loaded}\n"
        "  - {name: everyone, strategy: round_robin}\n")
    engine = make_engine(definitions=folder)
    send(engine, profile("rep-a", team="east"), profile("rep-b", team="west"),
         opened("D-0", owner="rep-a"),
         unowned("D-1", territory="east"), unowned("D-2", territory="east", workflow="channel",
                                                   partner="p"),
         unowned("D-3"))
    first = routed(engine, "D-1")
    assert (first.owner, first.rule, first.reason["eligible"]) == ("rep-a", "east_desk",
                                                                  ["rep-a"])
    # A channel deal does not match east_desk; a deal without territory neither.
    assert [routed(engine, d).rule for d in ("D-2", "D-3")] == ["everyone", "everyone"]
