"""The segments view (view name ``segments``): each deal's account, its signing and its
cancellation, as of any time (the tiers are computed when read: they depend on the time
asked, see :mod:`projections.segments.tiers`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import BigInteger, Column, Connection, Index, String

from engine.domain import Deal
from engine.store.log import LoggedEvent
from projections.base import Projection
from projections.pipeline.columns import Money, UtcDateTime, write_rows

__all__ = ["SegmentsProjection"]

Row = dict[str, Any]


class SegmentsProjection(Projection):
    """Tables ``deals`` (deal -> account), ``signings`` (each ``contract.signed``: time,
    amount, currency) and ``cancellations`` (each ``contract.cancelled``), each row with
    when it happened and when it was recorded; insert-only, a function of each event."""

    name = "segments"
    topics = frozenset(e.TOPIC for e in (Deal.Opened, Deal.ContractSigned,
                                         Deal.ContractCancelled))
    rebuild_cost = 0.1  # three kinds of event, one insert each

    def define_tables(self) -> None:
        """Declare ``deals``, ``signings`` and ``cancellations``."""
        self.deals = self.table(
            "deals",
            Column("deal", String(36), primary_key=True),
            Column("subject", String()),
            Column("account", String(), nullable=False),
        )
        self.signings = self.table(
            "signings",
            Column("position", BigInteger, primary_key=True, autoincrement=False),
            Column("deal", String(36), nullable=False),
            Column("signed_at", UtcDateTime, nullable=False),
            Column("recorded_at", UtcDateTime, nullable=False),
            Column("amount", Money, nullable=False),
            Column("currency", String(3), nullable=False),
        )
        Index(self.table_name("signings_signed_at"), self.signings.c.signed_at)
        self.cancellations = self.table(
            "cancellations",
            Column("position", BigInteger, primary_key=True, autoincrement=False),
            Column("deal", String(36), nullable=False),
            Column("cancelled_at", UtcDateTime, nullable=False),
            Column("recorded_at", UtcDateTime, nullable=False),
        )

    def process(self, conn: Connection, events: Sequence[LoggedEvent]) -> None:
        """Insert one row per opening, signing and cancellation of the batch."""
        deals: list[Row] = []
        signings: list[Row] = []
        cancellations: list[Row] = []
        for logged in events:
            event = logged.event
            if isinstance(event, Deal.Opened):
                deals.append({"deal": logged.originator_text, "subject": event.subject,
                              "account": event.account})
            elif isinstance(event, Deal.ContractSigned):
                signings.append({"position": logged.position, "deal": logged.originator_text,
                                 "signed_at": event.occurred_at,
                                 "recorded_at": event.timestamp, "amount": event.amount,
                                 "currency": event.currency})
            elif isinstance(event, Deal.ContractCancelled):
                cancellations.append({"position": logged.position,
                                      "deal": logged.originator_text,
                                      "cancelled_at": event.occurred_at,
                                      "recorded_at": event.timestamp})
        write_rows(conn, self.deals, deals)
        write_rows(conn, self.signings, signings)
        write_rows(conn, self.cancellations, cancellations)
