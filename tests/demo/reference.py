"""An independent, deliberately simple model of the contract for checking generated lines.

It re-states CONTRACT.md's rules (envelope validation, the two shipped workflows, closed-deal
rules, duplicates and conflicts) without using the engine, and judges lines in arrival order.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

STAGES = {
    "standard": ("lead", "contact", "needs_analysis", "proposal", "quote", "negotiation"),
    "channel": ("registered", "approved", "joint_call", "proposal", "quote", "negotiation"),
}
WON_ACCEPTS = {"activity.logged", "deal.customer_info_captured", "payment.received",
               "survey.responded", "contract.cancelled"}
LOST_ACCEPTS = {"activity.logged", "deal.customer_info_captured", "survey.responded",
                "deal.reopened"}
REQUIRED_DATA = {
    "deal.opened": ("workflow", "account", "amount", "currency"),  # owner optional (1.1)
    "deal.stage_changed": ("to",),
    "activity.logged": ("kind",),
    "deal.needs_recorded": ("summary",),
    "deal.customer_info_captured": ("contact_name",),
    "proposal.sent": (),
    "quote.issued": ("amount", "currency"),
    "deal.registration_approved": (),
    "contract.signed": ("amount", "currency"),
    "deal.lost": ("reason",),
    "deal.reopened": (),
    "deal.reassigned": ("owner",),
    "deal.amount_changed": ("amount", "currency"),
    "payment.received": ("amount", "currency"),
    "contract.cancelled": ("reason",),
    "survey.responded": ("score",),
    "rep.quota_set": ("period", "amount", "currency"),
    "rep.plan_assigned": ("plan",),
    "rep.profile_set": ("team",),
    "deal.forecast_set": ("category",),
    "deal.expected_close_changed": ("expected_close",),
    "forecast.submitted": ("period", "amount", "currency"),
}
KINDS = {"call", "email", "meeting", "visit"}
PURPOSES = {"first_call", "thank_you", "follow_up", "needs_discovery", "checkin"}
TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
ENVELOPE = ("id", "type", "source", "time", "subject", "data")


def instant(obj: dict[str, Any]) -> datetime:
    """The ``time`` of a contract object as an aware datetime."""
    return datetime.fromisoformat(obj["time"].replace("Z", "+00:00"))


def _is_amount(value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        return False
    try:
        return Decimal(value).is_finite()
    except InvalidOperation:
        return False


def field_error(raw: bytes) -> str | None:
    """The field-level bad-input class of ``raw``, or None when it is a well-formed fact."""
    try:
        obj = json.loads(raw, parse_float=Decimal)
    except ValueError:
        return "not_json"
    if not isinstance(obj, dict):
        return "not_json"
    if any(name not in obj for name in ENVELOPE):
        return "missing_field"
    if any(not isinstance(obj[name], str) for name in ENVELOPE[:5]):
        return "ill_typed"
    if "actor" in obj and not isinstance(obj["actor"], str):
        return "ill_typed"
    if not isinstance(obj["data"], dict):
        return "ill_typed"
    if obj["type"] not in REQUIRED_DATA:
        return "unknown_type"
    data = obj["data"]
    if any(name not in data for name in REQUIRED_DATA[obj["type"]]):
        return "missing_field"
    if "amount" in data and not _is_amount(data["amount"]):
        return "ill_typed"
    if "score" in data and (type(data["score"]) is not int or not 1 <= data["score"] <= 5):
        return "ill_typed"
    if any(not isinstance(data.get(name, ""), str) for name in ("to", "kind", "purpose")):
        return "ill_typed"
    if obj["type"] == "activity.logged" and (
        data["kind"] not in KINDS or data.get("purpose", "first_call") not in PURPOSES
    ):
        return "ill_typed"
    if not TIME.match(obj["time"]):
        return "time_without_offset"
    for name in ("amount", "refund_amount"):
        if name in data and (Decimal(data[name]) * 100) % 1 != 0:
            return "amount_precision"
    if "splits" in data and sum(Decimal(s["share"]) for s in data["splits"]) != 1:
        return "ill_typed"
    return None


@dataclass
class DealState:
    """What the model remembers about one deal."""

    workflow: str
    stage: str
    facts: set[str] = field(default_factory=set)
    lost_from: str | None = None
    history: list[str] = field(default_factory=list)


def _requirement_met(state: DealState, to: str) -> bool:
    needs = {
        "contact": "activity",
        "needs_analysis": "deal.customer_info_captured",
        "proposal": "deal.needs_recorded",
        "quote": "proposal.sent",
        "negotiation": "quote.issued",
        "approved": "deal.registration_approved",
        "joint_call": "call_or_meeting",
    }[to]
    return needs in state.facts


@dataclass
class ContractModel:
    """Judges lines in arrival order: ``judge`` returns None (accepted), ``"duplicate"`` or
    the bad-input class that refuses it."""

    deals: dict[str, DealState] = field(default_factory=dict)
    seen: dict[tuple[str, str], bytes] = field(default_factory=dict)

    def judge(self, raw: bytes) -> str | None:
        problem = field_error(raw)
        if problem is not None:
            return problem
        obj = json.loads(raw)
        key = (obj["source"], obj["id"])
        if key in self.seen:
            return "duplicate" if self.seen[key] == raw else "conflict"
        problem = self._rule(obj)
        if problem is None:
            self.seen[key] = raw
        return problem

    def _rule(self, obj: dict[str, Any]) -> str | None:
        kind, data, subject = obj["type"], obj["data"], obj["subject"]
        if kind.startswith(("rep.", "forecast.")):  # a rep's facts: the subject is a rep id
            return None
        state = self.deals.get(subject)
        if kind == "deal.opened":
            if state is not None:
                return "opened_twice"
            stages = STAGES[data["workflow"]]
            self.deals[subject] = DealState(data["workflow"], stages[0])
            return None
        if state is None:
            return "unknown_deal"
        if state.stage == "won" and kind not in WON_ACCEPTS:
            return "closed_deal"
        if state.stage == "lost" and kind not in LOST_ACCEPTS:
            return "closed_deal"
        stages = STAGES[state.workflow]
        if kind == "deal.stage_changed":
            if state.stage not in stages or stages.index(state.stage) + 1 >= len(stages):
                return "stage_jump"
            if data["to"] != stages[stages.index(state.stage) + 1]:
                return "stage_jump"
            if not _requirement_met(state, data["to"]):
                return "missing_requirement"
            state.stage = data["to"]
        elif kind == "contract.signed":
            if state.stage != "negotiation":
                return "stage_jump"
            state.stage = "won"
        elif kind == "deal.lost":
            state.lost_from, state.stage = state.stage, "lost"
        elif kind == "deal.reopened":
            if state.stage != "lost" or state.lost_from is None:
                return "closed_deal"
            target = data.get("stage") or state.lost_from
            if stages.index(target) > stages.index(state.lost_from):
                return "stage_jump"
            state.stage = target
        elif kind in ("contract.cancelled", "payment.received") and state.stage != "won":
            return "closed_deal"
        elif kind == "activity.logged":
            state.facts.add("activity")
            if data["kind"] in ("call", "meeting"):
                state.facts.add("call_or_meeting")
        state.facts.add(kind)
        state.history.append(kind if kind != "deal.stage_changed" else data["to"])
        return None
