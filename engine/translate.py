"""Translate a validated contract fact into the command it asks for."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from engine import commands as c
from engine.contract import data as d
from engine.contract.envelope import Fact
from engine.domain.facts import FactMeta

__all__ = ["to_command"]


def _meta(fact: Fact) -> FactMeta:
    extra: dict[str, Any] = {}
    if fact.data_extra:
        extra["data"] = fact.data_extra
    if fact.envelope_extra:
        extra["envelope"] = fact.envelope_extra
    return FactMeta(
        source=fact.source, fact_id=fact.id, occurred_at=fact.time, actor=fact.actor, extra=extra
    )


def _splits(splits: list[d.Split] | None) -> list[dict[str, Any]] | None:
    return None if splits is None else [{"rep": s.rep, "share": s.share} for s in splits]


def _open(f: Fact, m: FactMeta) -> c.Command:
    x = f.data
    assert isinstance(x, d.DealOpenedData)
    return c.OpenDeal(
        meta=m, deal=f.subject, workflow=x.workflow, account=x.account, owner=x.owner,
        amount=x.amount, currency=x.currency, expected_close=x.expected_close,
        segment=x.segment, territory=x.territory, partner=x.partner, splits=_splits(x.splits),
    )


def _advance(f: Fact, m: FactMeta) -> c.Command:
    assert isinstance(f.data, d.StageChangedData)
    return c.AdvanceStage(meta=m, deal=f.subject, to=f.data.to)


def _activity(f: Fact, m: FactMeta) -> c.Command:
    x = f.data
    assert isinstance(x, d.ActivityLoggedData)
    return c.LogActivity(meta=m, deal=f.subject, kind=x.kind, purpose=x.purpose,
                         outcome=x.outcome)


def _note(f: Fact, m: FactMeta) -> c.Command:
    details = f.data.model_dump(exclude_none=True)
    for key in f.data_extra:
        details.pop(key, None)
    return c.NoteFact(meta=m, deal=f.subject, fact_type=f.type, details=details)


def _money(command: type[c.IssueQuote | c.SignContract | c.ChangeAmount | c.ReceivePayment]
           ) -> Callable[[Fact, FactMeta], c.Command]:
    def build(f: Fact, m: FactMeta) -> c.Command:
        assert isinstance(f.data, d.MoneyData)
        return command(meta=m, deal=f.subject, amount=f.data.amount,
                                       currency=f.data.currency)

    return build


def _lose(f: Fact, m: FactMeta) -> c.Command:
    assert isinstance(f.data, d.DealLostData)
    return c.LoseDeal(meta=m, deal=f.subject, reason=f.data.reason)


def _reopen(f: Fact, m: FactMeta) -> c.Command:
    assert isinstance(f.data, d.DealReopenedData)
    return c.ReopenDeal(meta=m, deal=f.subject, stage=f.data.stage)


def _reassign(f: Fact, m: FactMeta) -> c.Command:
    assert isinstance(f.data, d.DealReassignedData)
    return c.ReassignDeal(meta=m, deal=f.subject, owner=f.data.owner,
                          splits=_splits(f.data.splits))


def _cancel(f: Fact, m: FactMeta) -> c.Command:
    assert isinstance(f.data, d.ContractCancelledData)
    return c.CancelContract(meta=m, deal=f.subject, reason=f.data.reason,
                            refund_amount=f.data.refund_amount)


def _survey(f: Fact, m: FactMeta) -> c.Command:
    assert isinstance(f.data, d.SurveyRespondedData)
    return c.RecordSurvey(meta=m, deal=f.subject, score=f.data.score)


def _quota(f: Fact, m: FactMeta) -> c.Command:
    x = f.data
    assert isinstance(x, d.QuotaSetData)
    return c.SetQuota(meta=m, rep=f.subject, period=x.period, amount=x.amount,
                      currency=x.currency, team=x.team)


def _plan(f: Fact, m: FactMeta) -> c.Command:
    assert isinstance(f.data, d.PlanAssignedData)
    return c.AssignPlan(meta=m, rep=f.subject, plan=f.data.plan,
                        effective_from=f.data.effective_from)


def _profile(f: Fact, m: FactMeta) -> c.Command:
    x = f.data
    assert isinstance(x, d.ProfileSetData)
    return c.SetProfile(meta=m, rep=f.subject, team=x.team, manager=x.manager,
                        territories=x.territories, segments=x.segments, capacity=x.capacity,
                        active=True if x.active is None else x.active)


def _forecast_set(f: Fact, m: FactMeta) -> c.Command:
    assert isinstance(f.data, d.ForecastSetData)
    return c.SetForecastCategory(meta=m, deal=f.subject, category=f.data.category)


def _close_date(f: Fact, m: FactMeta) -> c.Command:
    assert isinstance(f.data, d.ExpectedCloseChangedData)
    return c.ChangeExpectedClose(meta=m, deal=f.subject, expected_close=f.data.expected_close)


def _forecast_call(f: Fact, m: FactMeta) -> c.Command:
    x = f.data
    assert isinstance(x, d.ForecastSubmittedData)
    return c.SubmitForecast(meta=m, rep=f.subject, period=x.period, amount=x.amount,
                            currency=x.currency)


_TRANSLATORS: dict[str, Callable[[Fact, FactMeta], c.Command]] = {
    "deal.opened": _open,
    "deal.stage_changed": _advance,
    "activity.logged": _activity,
    "deal.needs_recorded": _note,
    "deal.customer_info_captured": _note,
    "proposal.sent": _note,
    "deal.registration_approved": _note,
    "quote.issued": _money(c.IssueQuote),
    "contract.signed": _money(c.SignContract),
    "deal.amount_changed": _money(c.ChangeAmount),
    "payment.received": _money(c.ReceivePayment),
    "deal.lost": _lose,
    "deal.reopened": _reopen,
    "deal.reassigned": _reassign,
    "contract.cancelled": _cancel,
    "survey.responded": _survey,
    "rep.quota_set": _quota,
    "rep.plan_assigned": _plan,
    "rep.profile_set": _profile,
    "deal.forecast_set": _forecast_set,
    "deal.expected_close_changed": _close_date,
    "forecast.submitted": _forecast_call,
}


def to_command(fact: Fact) -> c.Command:
    """The command a validated fact asks for."""
    return _TRANSLATORS[fact.type](fact, _meta(fact))
