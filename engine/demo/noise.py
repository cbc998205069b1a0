"""Bad inputs of every class the contract names, derived from a good fact just delivered.

Every bad line has a fresh id ``bad-<class>-<nnnnnn>`` (so it never collides with a good
fact and a correct ingest refuses it without touching anything), except ``conflict``, which
re-sends an accepted ``activity.logged`` under its own (``source``, ``id``) with a changed
``data.outcome``.
"""

from __future__ import annotations

import copy
import random
from typing import Any

from engine.demo.facts import FactMint, dumps

__all__ = [
    "BAD_CLASSES",
    "FIELD_CLASSES",
    "WORKFLOW_CLASSES",
    "Noise",
]

FIELD_CLASSES = (
    "not_json",
    "missing_field",
    "ill_typed",
    "unknown_type",
    "amount_precision",
    "time_without_offset",
)
"""Refused by validation, whatever the deal's state (the reason names the field)."""

WORKFLOW_CLASSES = (
    "stage_jump",
    "missing_requirement",
    "unknown_deal",
    "opened_twice",
    "closed_deal",
)
"""Well-formed facts the workflow refuses (the reason names the rule)."""

BAD_CLASSES = (*FIELD_CLASSES, *WORKFLOW_CLASSES, "conflict")
"""Every bad-input class the generator produces."""

_REQUIRED_DATA = {
    "deal.opened": "account",  # not owner: optional since contract 1.1 (routing)
    "deal.stage_changed": "to",
    "activity.logged": "kind",
    "deal.needs_recorded": "summary",
    "deal.customer_info_captured": "contact_name",
    "quote.issued": "currency",
    "contract.signed": "amount",
    "deal.lost": "reason",
    "deal.reassigned": "owner",
    "deal.amount_changed": "amount",
    "payment.received": "currency",
    "contract.cancelled": "reason",
    "survey.responded": "score",
    "rep.quota_set": "period",
    "rep.plan_assigned": "plan",
    "deal.forecast_set": "category",
    "deal.expected_close_changed": "expected_close",
    "forecast.submitted": "period",
}
_UNKNOWN_TYPES = ("deal.teleported", "activity.deleted", "lead.created", "deal.stage_change")
_GARBAGE = (
    "<html><body><h1>502 Bad Gateway</h1></body></html>",
    "HTTP/1.1 504 Gateway Timeout",
)


class Noise:
    """Builds bad lines; ``rng`` and ``mint`` are the generation run's own."""

    def __init__(self, rng: random.Random, mint: FactMint) -> None:
        self._rng = rng
        self._mint = mint

    @staticmethod
    def applies(bad_class: str, template: dict[str, Any]) -> bool:
        """Whether ``bad_class`` can be derived from ``template``."""
        if bad_class == "amount_precision":
            return "amount" in template["data"]
        if bad_class == "unknown_deal":  # rep facts name a rep, not a deal
            return not template["type"].startswith(("rep.", "forecast."))
        return bad_class in FIELD_CLASSES

    def derive(self, bad_class: str, template: dict[str, Any]) -> bytes:
        """A bad line of ``bad_class`` (a field class or ``unknown_deal``) from ``template``."""
        obj = copy.deepcopy(template)
        obj["id"] = self._mint.bad_id(bad_class)
        if bad_class == "unknown_deal":
            return self._unknown_deal(obj)
        if bad_class == "not_json":
            return self._not_json(obj)
        if bad_class == "missing_field":
            missing = ["time", "subject", "source", "type", "data"]
            required = _REQUIRED_DATA.get(obj["type"])
            if required is not None:
                missing += [f"data.{required}"] * 3
            field = self._rng.choice(missing)
            if field.startswith("data."):
                del obj["data"][field.removeprefix("data.")]
            else:
                del obj[field]
        elif bad_class == "ill_typed":
            self._ill_type(obj)
        elif bad_class == "unknown_type":
            obj["type"] = self._rng.choice(_UNKNOWN_TYPES)
        elif bad_class == "amount_precision":
            obj["data"]["amount"] = f"{obj['data']['amount']}{self._rng.randint(1, 9)}"
        elif bad_class == "time_without_offset":
            obj["time"] = obj["time"].removesuffix("Z").removesuffix("+08:00")
        else:
            raise ValueError(f"not a derived bad class: {bad_class}")
        return dumps(obj)

    @staticmethod
    def conflict(template: dict[str, Any]) -> bytes:
        """``template`` (an accepted ``activity.logged``) again, same id, other ``outcome``."""
        obj = copy.deepcopy(template)
        old = obj["data"].get("outcome")
        obj["data"]["outcome"] = "edited-after-send" if old != "edited-after-send" else "edited"
        return dumps(obj)

    def _not_json(self, obj: dict[str, Any]) -> bytes:
        roll = self._rng.random()
        if roll < 0.5:
            text = dumps(obj).decode()
            return text[: self._rng.randint(10, len(text) - 2)].encode()
        if roll < 0.8:
            return repr(obj).encode()  # a Python dict: single quotes, not JSON
        return self._rng.choice(_GARBAGE).encode()

    def _ill_type(self, obj: dict[str, Any]) -> None:
        data = obj["data"]
        choices = ["time", "subject", "data"]
        choices += [name for name in ("amount", "score", "kind", "to") if name in data]
        field = self._rng.choice(choices)
        if field == "time":
            obj["time"] = 1767225600 + self._rng.randint(0, 7_000_000)
        elif field == "subject":
            obj["subject"] = self._rng.randint(1, 99_999)
        elif field == "data":
            obj["data"] = [f"{key}={value}" for key, value in data.items()]
        elif field == "amount":
            data["amount"] = True
        elif field == "score":
            data["score"] = "five"
        else:
            data[field] = {"value": data[field]}

    def _unknown_deal(self, obj: dict[str, Any]) -> bytes:
        # A producer that lost a deal's opening: the subject was never opened.
        obj["subject"] = f"deal-{self._mint.tag}-ghost-{obj['id'].rsplit('-', 1)[1]}"
        if obj["type"] == "deal.opened":
            obj["type"], obj["data"] = "deal.stage_changed", {"to": "contact"}
        return dumps(obj)
