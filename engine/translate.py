"""Translate a validated contract fact into the command it asks for.

Almost every fact type maps its ``data`` onto its command field for field (the names are
the same on both sides): those are rows of one table, the command class and the fields it
takes. Two fields are reshaped on the way (``splits`` to plain rows, an absent ``active`` to
true) and the noted facts keep their whole ``data`` as details.
"""

from __future__ import annotations

from collections.abc import Callable
from operator import attrgetter
from typing import Any

from engine import commands as c
from engine.contract import data as d
from engine.contract.envelope import Fact
from engine.domain.facts import FactMeta

__all__ = ["to_command"]

Translator = Callable[[Fact, FactMeta], c.Command]


def _splits(splits: list[d.Split] | None) -> list[dict[str, Any]] | None:
    return None if splits is None else [{"rep": s.rep, "share": s.share} for s in splits]


def _active(active: bool | None) -> bool:
    return True if active is None else active


#: Fields whose command value is reshaped from the contract's.
_RESHAPED: dict[str, Callable[[Any], Any]] = {"splits": _splits, "active": _active}

_MONEY = ("amount", "currency")

#: fact type -> (command, the data fields it takes under the same names)
_PLAIN: dict[str, tuple[type[c.Command], tuple[str, ...]]] = {
    "deal.opened": (c.OpenDeal, ("workflow", "account", "owner", *_MONEY, "expected_close",
                                 "segment", "territory", "partner", "splits")),
    "deal.stage_changed": (c.AdvanceStage, ("to",)),
    "activity.logged": (c.LogActivity, ("kind", "purpose", "outcome")),
    "quote.issued": (c.IssueQuote, _MONEY),
    "contract.signed": (c.SignContract, _MONEY),
    "deal.amount_changed": (c.ChangeAmount, _MONEY),
    "payment.received": (c.ReceivePayment, _MONEY),
    "deal.lost": (c.LoseDeal, ("reason",)),
    "deal.reopened": (c.ReopenDeal, ("stage",)),
    "deal.reassigned": (c.ReassignDeal, ("owner", "splits")),
    "contract.cancelled": (c.CancelContract, ("reason", "refund_amount")),
    "survey.responded": (c.RecordSurvey, ("score",)),
    "deal.forecast_set": (c.SetForecastCategory, ("category",)),
    "deal.expected_close_changed": (c.ChangeExpectedClose, ("expected_close",)),
    "rep.quota_set": (c.SetQuota, ("period", *_MONEY, "team")),
    "rep.plan_assigned": (c.AssignPlan, ("plan", "effective_from")),
    "rep.profile_set": (c.SetProfile, ("team", "manager", "territories", "segments",
                                       "capacity", "active")),
    "forecast.submitted": (c.SubmitForecast, ("period", *_MONEY)),
}

#: Facts that only need remembering: their data, as received, is the command's details.
_NOTED = ("deal.needs_recorded", "deal.customer_info_captured", "proposal.sent",
          "deal.registration_approved")


def _plain(command: type[c.Command], fields: tuple[str, ...]) -> Translator:
    """The translator of one ``_PLAIN`` row (its field getter built once, not per fact)."""
    subject = "rep" if issubclass(command, c.RepCommand) else "deal"
    get = attrgetter(*fields)
    many = len(fields) > 1
    reshaped = [(name, _RESHAPED[name]) for name in fields if name in _RESHAPED]

    def build(f: Fact, m: FactMeta) -> c.Command:
        kwargs: dict[str, Any] = (dict(zip(fields, get(f.data), strict=True)) if many
                                  else {fields[0]: get(f.data)})
        for name, reshape in reshaped:
            kwargs[name] = reshape(kwargs[name])
        kwargs[subject] = f.subject
        return command(meta=m, **kwargs)

    return build


def _note(f: Fact, m: FactMeta) -> c.Command:
    details = f.data.model_dump(exclude_none=True)
    for key in f.data.model_extra or ():
        details.pop(key, None)
    return c.NoteFact(meta=m, deal=f.subject, fact_type=f.type, details=details)


_TRANSLATORS: dict[str, Translator] = {
    **{fact_type: _plain(*row) for fact_type, row in _PLAIN.items()},
    **dict.fromkeys(_NOTED, _note),
}


def to_command(fact: Fact) -> c.Command:
    """The command a validated fact asks for."""
    extra: dict[str, Any] = {}
    data_extra = fact.data.model_extra
    if data_extra:
        extra["data"] = dict(data_extra)
    if fact.envelope_extra:
        extra["envelope"] = fact.envelope_extra
    # By position (source, fact_id, occurred_at, actor, extra): keywords cost more per fact.
    meta = FactMeta(fact.source, fact.id, fact.time, fact.actor, extra)
    return _TRANSLATORS[fact.type](fact, meta)
