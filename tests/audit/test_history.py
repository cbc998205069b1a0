"""``audit history``: every fact of a deal with both times, source, actor and decision, and
its derived changes; on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

from engine.audit import ChainFollower
from engine.audit.commission import commission_lines
from engine.audit.history import DealHistory, deal_history
from engine.bootstrap import Engine
from engine.domain.escalation import Escalation
from tests.audit.helpers import Tamper


def history(engine: Engine, follower: ChainFollower, subject: str) -> DealHistory:
    return deal_history(engine.app, follower.engine, subject,
                        commission=commission_lines(engine.runner(["commissions"]),
                                                    datetime.now(UTC)))


def test_history_of_a_won_then_cancelled_deal(populated: Engine,
                                              follower: ChainFollower) -> None:
    follower.catch_up()
    found = history(populated, follower, "D-2")
    accepted = [e for e in found.entries if e.decision == "accepted"]
    assert [e.fact_type for e in accepted[:3]] == [
        "deal.opened", "activity.logged", "deal.stage_changed"]
    assert accepted[0].detail == "opened in lead (workflow standard v1)"
    assert "transition advance: lead -> contact" in accepted[2].detail
    assert "transition sign: negotiation -> won" in [e.detail for e in accepted][-2]
    assert accepted[-1].fact_type == "contract.cancelled"
    first = accepted[0]
    assert first.occurred_at == datetime.fromisoformat("2026-01-07T09:00:00+08:00")
    assert first.recorded_at > first.occurred_at
    assert (first.source, first.actor) == ("crm-web", "rep-01")
    assert all(e.chain and e.chain.startswith("chained #") for e in accepted)
    assert found.commission is not None
    assert {c.kind for c in found.commission} == {"rate", "clawback"}
    assert sum(float(c.amount) for c in found.commission) == 0


def test_refusals_sla_escalations_and_tampering_show(populated: Engine,
                                                     follower: ChainFollower) -> None:
    breach = Escalation.breach(
        deal="D-3", workflow="standard", workflow_version=1, rule="first_contact",
        instance="1", started_at=datetime(2026, 1, 8, 1, tzinfo=UTC),
        due_at=datetime(2026, 1, 9, 1, tzinfo=UTC), occurred_at=datetime(2026, 1, 9, 2,
                                                                         tzinfo=UTC))
    populated.app.save(breach)
    follower.catch_up()
    quote = next(e.position for e in history(populated, follower, "D-3").entries
                 if e.fact_type == "quote.issued")
    assert quote is not None
    Tamper(populated, follower.engine).change_byte(quote)
    found = history(populated, follower, "D-3")
    refused = [e for e in found.entries if e.decision == "refused"]
    assert len(refused) == 1
    assert refused[0].fact_type == "deal.stage_changed"
    assert refused[0].detail.startswith("rule closed_deal: deal.stage_changed")
    assert refused[0].occurred_at == datetime.fromisoformat("2026-02-11T10:00:00+08:00")
    assert refused[0].actor == "rep-01"
    derived = [e for e in found.entries if e.decision == "derived"]
    assert [(e.fact_type, e.detail.split(",")[0]) for e in derived] == [
        ("sla.breached", "first_contact (1)")]
    tampered = next(e for e in found.entries if e.position == quote)
    assert (tampered.decision, tampered.chain) == ("undecodable", "DIFFERS from the chain")
    assert found.to_json()["entries"][0]["recorded_at"]


def test_history_of_an_unknown_deal(populated: Engine, follower: ChainFollower) -> None:
    found = history(populated, follower, "NOPE")
    assert [e.decision for e in found.entries] == ["refused"]
    assert found.notes == ["no accepted fact opened a deal 'NOPE'"]
    assert found.commission == []
