"""Builders of contract facts for tests (JSON bytes, as a producer would send them)."""

from __future__ import annotations

import json
from itertools import count
from typing import Any

_ids = count(1)


def fact(
    type_: str,
    subject: str,
    data: dict[str, Any] | None = None,
    *,
    time: str = "2026-01-05T10:00:00+08:00",
    source: str = "crm-web",
    id_: str | None = None,
    actor: str | None = "rep-01",
    **envelope: Any,
) -> dict[str, Any]:
    """One contract object."""
    obj: dict[str, Any] = {
        "id": id_ or f"t-{next(_ids)}",
        "type": type_,
        "source": source,
        "time": time,
        "subject": subject,
        "data": data or {},
    }
    if actor is not None:
        obj["actor"] = actor
    obj.update(envelope)
    return obj


def raw(obj: dict[str, Any]) -> bytes:
    """As bytes on the wire."""
    return json.dumps(obj).encode()


def opened(subject: str, workflow: str = "standard", **data: Any) -> dict[str, Any]:
    """A valid ``deal.opened``."""
    body: dict[str, Any] = {"workflow": workflow, "account": f"acct-{subject}",
                            "owner": "rep-01", "amount": "10000.00", "currency": "CNY"}
    if workflow == "channel":
        body["partner"] = "partner-acme"
    body.update(data)
    time = body.pop("time", "2026-01-05T10:00:00+08:00")
    return fact("deal.opened", subject, body, time=time)


STANDARD_PATH: list[tuple[str, dict[str, Any]]] = [
    ("activity.logged", {"kind": "call", "purpose": "first_call"}),
    ("deal.stage_changed", {"to": "contact"}),
    ("deal.customer_info_captured", {"contact_name": "Li Lei"}),
    ("deal.stage_changed", {"to": "needs_analysis"}),
    ("deal.needs_recorded", {"summary": "wants 20 seats"}),
    ("deal.stage_changed", {"to": "proposal"}),
    ("proposal.sent", {"document": "p.pdf"}),
    ("deal.stage_changed", {"to": "quote"}),
    ("quote.issued", {"amount": "12000.00", "currency": "CNY"}),
    ("deal.stage_changed", {"to": "negotiation"}),
    ("contract.signed", {"amount": "11500.00", "currency": "CNY"}),
]

CHANNEL_PATH: list[tuple[str, dict[str, Any]]] = [
    ("deal.registration_approved", {}),
    ("deal.stage_changed", {"to": "approved"}),
    ("activity.logged", {"kind": "meeting"}),
    ("deal.stage_changed", {"to": "joint_call"}),
    ("deal.needs_recorded", {"summary": "wants 20 seats"}),
    ("deal.stage_changed", {"to": "proposal"}),
    ("proposal.sent", {}),
    ("deal.stage_changed", {"to": "quote"}),
    ("quote.issued", {"amount": "12000.00", "currency": "CNY"}),
    ("deal.stage_changed", {"to": "negotiation"}),
    ("contract.signed", {"amount": "11500.00", "currency": "CNY"}),
]
