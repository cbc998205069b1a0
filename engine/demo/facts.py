"""Building contract facts: ids per source, time text per source, JSON bytes, amounts.

A generated fact is a :class:`ScriptItem`: its instant (for ordering), its line (bytes, as
it will be delivered) and what delivery may do with it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from engine.demo.clock import format_time

__all__ = [
    "ACTIVITY_SOURCES",
    "FactMint",
    "ScriptItem",
    "cents_text",
    "dumps",
]

# Which service emits each type (activities depend on their kind, see ACTIVITY_SOURCES).
_SOURCE_BY_TYPE = {
    "deal.opened": "crm-web",
    "deal.registration_approved": "partner-portal",
    "contract.signed": "esign",
    "contract.cancelled": "esign",
    "payment.received": "billing",
    "survey.responded": "survey-tool",
}
ACTIVITY_SOURCES = {"call": "telephony", "email": "mail-gateway"}
_ID_PREFIX = {
    "crm-web": "crm",
    "telephony": "call",
    "mail-gateway": "msg",
    "esign": "env",
    "billing": "txn",
    "survey-tool": "resp",
    "partner-portal": "reg",
}
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
# The e-signature, billing and survey services stamp UTC; the rest write Shanghai local time.
_UTC_SOURCES = frozenset({"esign", "billing", "survey-tool"})


def dumps(obj: object) -> bytes:
    """Compact JSON bytes (UTF-8, no newline), stable for the same input."""
    return _ENCODER.encode(obj).encode()


def cents_text(cents: int) -> str:
    """Cents as a decimal string with exactly 2 decimals: ``1234567`` -> ``12345.67``."""
    return f"{cents // 100}.{cents % 100:02d}"


@dataclass(slots=True)
class ScriptItem:
    """One line to deliver at instant ``time``.

    ``deferrable`` marks facts no later workflow step depends on (activities that satisfy no
    stage, payments, surveys): only these may be delivered after later-timed facts.
    ``bad`` names the bad-input class when the line is meant to be rejected.
    """

    time: int
    raw: bytes
    type: str
    deferrable: bool = False
    bad: str | None = None


class FactMint:
    """Gives each fact its id (unique per source) and its time text (styled per source)."""

    def __init__(self, tag: str, *, tag_bad_ids: bool = False) -> None:
        self.tag = tag.lower()
        self._next: dict[str, int] = {}
        self._bad = 0
        self._bad_tag = f"{self.tag}-" if tag_bad_ids else ""

    def source_for(self, fact_type: str, kind: str | None = None) -> str:
        """The service that emits ``fact_type`` (and activity ``kind``)."""
        if kind is not None:
            return ACTIVITY_SOURCES.get(kind, "crm-web")
        return _SOURCE_BY_TYPE.get(fact_type, "crm-web")

    def fresh_id(self, source: str) -> str:
        """The next id at ``source``, e.g. ``call-2026q1-0000042``."""
        number = self._next.get(source, 0) + 1
        self._next[source] = number
        return f"{_ID_PREFIX.get(source, 'evt')}-{self.tag}-{number:07d}"

    def bad_id(self, bad_class: str) -> str:
        """A fresh id for a bad line: ``bad-<class>-<nnnnnn>``, never used by a good fact
        (``bad-<class>-<tag>-<nnnnnn>`` with ``tag_bad_ids``, unique across quarters)."""
        self._bad += 1
        return f"bad-{bad_class}-{self._bad_tag}{self._bad:06d}"

    def envelope(
        self,
        fact_type: str,
        t: int,
        subject: str,
        actor: str | None,
        data: dict[str, Any],
        *,
        kind: str | None = None,
        fact_id: str | None = None,
        source: str | None = None,
    ) -> dict[str, Any]:
        """A contract object, keys in the contract's order."""
        source = source or self.source_for(fact_type, kind)
        utc = source in _UTC_SOURCES
        millis = (t * 7919) % 1000 if source == "esign" else None
        obj: dict[str, Any] = {
            "id": fact_id if fact_id is not None else self.fresh_id(source),
            "type": fact_type,
            "source": source,
            "time": format_time(t, utc=utc, millis=millis),
            "subject": subject,
        }
        if actor is not None:
            obj["actor"] = actor
        obj["data"] = data
        return obj

    def item(
        self,
        fact_type: str,
        t: int,
        subject: str,
        actor: str | None,
        data: dict[str, Any],
        *,
        kind: str | None = None,
        source: str | None = None,
        deferrable: bool = False,
        bad: str | None = None,
    ) -> ScriptItem:
        """A :class:`ScriptItem` for a new fact (a bad one gets a ``bad-`` id)."""
        fact_id = self.bad_id(bad) if bad is not None else None
        obj = self.envelope(
            fact_type, t, subject, actor, data, kind=kind, fact_id=fact_id, source=source
        )
        return ScriptItem(t, dumps(obj), fact_type, deferrable, bad)
