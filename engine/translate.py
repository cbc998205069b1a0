"""Translate a validated contract fact into the command it asks for.

Almost every fact type maps its ``data`` onto its command field for field (the names are
the same on both sides): those are rows of one table, the command class and the fields it
takes. Two fields are reshaped on the way (``splits`` to plain rows, an absent ``active`` to
true) and the noted facts keep their whole ``data`` as details.
"""

from __future__ import annotations

import dataclasses
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


def _slot_setter(command: type[c.Command], name: str) -> Callable[[Any, Any], None]:
    """The setter of ``command``'s slot ``name`` (the field's member descriptor)."""
    for klass in command.__mro__:
        if name in vars(klass):
            setter: Callable[[Any, Any], None] = vars(klass)[name].__set__
            return setter
    raise AttributeError(f"{command.__name__} has no slot {name!r}")  # pragma: no cover


def _plain(command: type[c.Command], fields: tuple[str, ...]) -> Translator:
    """The translator of one ``_PLAIN`` row (its field getter built once, not per fact).

    A command is a frozen dataclass with slots: its generated ``__init__`` takes every
    field by keyword and sets each through ``object.__setattr__`` (~1-1.5 us a command,
    one per fact). When the row names every field of the command beside ``meta`` and the
    subject, and the command has no ``__post_init__``, the translator fills the slots
    directly through their descriptors instead: the same fields and values, no keyword
    dict (``tests/engine/test_translate.py`` compares both ways for every fact type)."""
    subject = "rep" if issubclass(command, c.RepCommand) else "deal"
    get = attrgetter(*fields)
    many = len(fields) > 1
    reshaped = [(name, _RESHAPED[name]) for name in fields if name in _RESHAPED]
    names = {f.name for f in dataclasses.fields(command)}
    if names != {"meta", subject, *fields} or hasattr(command, "__post_init__"):
        return _by_keywords(command, subject, fields, get, many, reshaped)
    new = object.__new__
    set_meta = _slot_setter(command, "meta")
    set_subject = _slot_setter(command, subject)
    plain = tuple(_slot_setter(command, name) if name not in _RESHAPED else None
                  for name in fields)
    fixes = [(_slot_setter(command, name), fields.index(name), reshape)
             for name, reshape in reshaped]

    def build(f: Fact, m: FactMeta) -> c.Command:
        cmd = new(command)
        set_meta(cmd, m)
        set_subject(cmd, f.subject)
        values = get(f.data) if many else (get(f.data),)
        for setter, value in zip(plain, values, strict=True):
            if setter is not None:
                setter(cmd, value)
        for setter, index, reshape in fixes:
            setter(cmd, reshape(values[index]))
        return cmd

    return build


def _by_keywords(command: type[c.Command], subject: str, fields: tuple[str, ...],
                 get: Callable[[Any], Any], many: bool,
                 reshaped: list[tuple[str, Callable[[Any], Any]]]) -> Translator:
    """A translator that builds the command through its ``__init__``, by keyword."""

    def build(f: Fact, m: FactMeta) -> c.Command:
        kwargs: dict[str, Any] = (dict(zip(fields, get(f.data), strict=True)) if many
                                  else {fields[0]: get(f.data)})
        for name, reshape in reshaped:
            kwargs[name] = reshape(kwargs[name])
        kwargs[subject] = f.subject
        return command(meta=m, **kwargs)

    return build


def _dumps_as_dict(model: type[d.FactData]) -> bool:
    """Whether ``model_dump`` of ``model`` is its fields' values as they are (no serializer,
    no computed field), for the values :func:`_details` takes that way (text)."""
    decorators = model.__pydantic_decorators__
    return not (decorators.field_serializers or decorators.model_serializers
                or model.model_computed_fields)


#: The noted facts' data models whose text fields :func:`_details` reads directly.
_DIRECT_DETAILS = frozenset(m for t in _NOTED if _dumps_as_dict(m := d.DATA_MODELS[t]))


def _details(data: d.FactData) -> dict[str, Any]:
    """``data.model_dump(exclude_none=True)`` without the unknown fields: read from the
    fields directly where every value is text or None (~1 us less than pydantic's
    serializer, one noted fact in six), else through ``model_dump``."""
    if type(data) in _DIRECT_DETAILS:
        details: dict[str, Any] = {}
        for name, value in data.__dict__.items():  # the fields, in order (no extras)
            if value is None:
                continue
            if type(value) is not str:
                break
            details[name] = value
        else:
            return details
    details = data.model_dump(exclude_none=True)
    for key in data.model_extra or ():
        details.pop(key, None)
    return details


def _note(f: Fact, m: FactMeta) -> c.Command:
    return c.NoteFact(meta=m, deal=f.subject, fact_type=f.type, details=_details(f.data))


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
