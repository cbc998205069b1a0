"""Building a realistic small store, and tampering with it behind dealflow's back."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine as SqlEngine
from sqlalchemy import text

from engine.audit import Checkpoint, Verifier, VerifyReport
from engine.audit.keys import Ed25519PublicKey
from engine.bootstrap import Engine
from tests.engine.conftest import send
from tests.engine.facts import STANDARD_PATH, fact, opened

__all__ = ["Tamper", "deal_facts", "populate", "verify"]


def deal_facts(subject: str, day: int, owner: str = "rep-01", *,
               amount: str = "11500.00", month: int = 1) -> list[dict[str, Any]]:
    """A deal opened on 2026-``month``-``day`` taken down the standard path to ``won``."""
    date = f"2026-{month:02d}-{day:02d}"
    facts = [opened(subject, owner=owner, time=f"{date}T09:00:00+08:00")]
    for step, (type_, data) in enumerate(STANDARD_PATH, start=1):
        if type_ == "contract.signed":
            data = {**data, "amount": amount}
        facts.append(fact(type_, subject, data, actor=owner,
                          time=f"{date}T{9 + step // 2:02d}:{step % 2 * 30:02d}:00+08:00"))
    return facts


def populate(engine: Engine, deals: int = 12) -> None:
    """Reps with quotas and plans, ``deals`` won deals (two reps), a payment, a cancelled
    contract (a clawback), and some refused facts (a stage jump, a deal never opened)."""
    facts = [
        fact("rep.quota_set", "rep-01", {"period": "2026-Q1", "amount": "60000.00",
                                         "currency": "CNY"}, time="2026-01-01T09:00:00+08:00"),
        fact("rep.plan_assigned", "rep-01", {"plan": "standard-2026"},
             time="2026-01-01T09:00:00+08:00"),
        fact("rep.quota_set", "rep-02", {"period": "2026-Q1", "amount": "30000.00",
                                         "currency": "CNY"}, time="2026-01-01T09:00:00+08:00"),
    ]
    for number in range(deals):
        owner = "rep-01" if number % 3 else "rep-02"
        facts.extend(deal_facts(f"D-{number}", 5 + number, owner,
                                amount=f"{10000 + 500 * number}.00"))
    facts.extend([
        fact("payment.received", "D-1", {"amount": "5000.00", "currency": "CNY"},
             time="2026-02-01T10:00:00+08:00"),
        fact("contract.cancelled", "D-2", {"reason": "budget cut"},
             time="2026-02-10T10:00:00+08:00"),
        fact("deal.stage_changed", "D-3", {"to": "lead"}, time="2026-02-11T10:00:00+08:00"),
        fact("activity.logged", "NOPE", {"kind": "call"}, time="2026-02-11T10:00:00+08:00"),
    ])
    result = send(engine, *facts)
    assert result.rejected == {"closed_deal": 1, "deal_not_found": 1}, result.rejected


def verify(engine: Engine, keys: Any, *given: Checkpoint, batch_size: int = 50
           ) -> VerifyReport:
    """Verify the store with ``keys.public``, checking the ``given`` checkpoints too."""
    public: Ed25519PublicKey = keys.public
    verifier = Verifier(engine.app, engine.sql, public, batch_size=batch_size,
                        checkpoints=[(f"file {c.size}", c) for c in given])
    return verifier.run()


class Tamper:
    """Direct SQL on the events table, as someone with database access could do."""

    def __init__(self, engine: Engine, sql: SqlEngine) -> None:
        """Tamper with ``engine``'s store through ``sql`` (an engine on its database)."""
        self.sql = sql
        if engine.app.backend == "sqlite":
            self.table, self.position = "stored_events", "rowid"
        else:
            self.table, self.position = "dealflow_events", "notification_id"

    def _run(self, *statements: str, **params: Any) -> None:
        with self.sql.begin() as conn:
            for statement in statements:
                conn.execute(text(statement.format(t=self.table, p=self.position)), params)

    def state(self, position: int) -> bytes:
        """The stored bytes at ``position``."""
        with self.sql.connect() as conn:
            return bytes(conn.execute(text(
                f"SELECT state FROM {self.table} WHERE {self.position} = :p"), {"p": position}
            ).scalar_one())

    def change_byte(self, position: int, index: int = 20) -> None:
        """Flip one bit of one byte of the event's stored bytes."""
        state = bytearray(self.state(position))
        state[index] ^= 0x01
        self._run("UPDATE {t} SET state = :s WHERE {p} = :pos", s=bytes(state), pos=position)

    def delete(self, position: int) -> None:
        """Remove one event."""
        self._run("DELETE FROM {t} WHERE {p} = :pos", pos=position)

    def swap(self, first: int, second: int) -> None:
        """Exchange two events' positions."""
        self._run("UPDATE {t} SET {p} = -1 WHERE {p} = :a",
                  "UPDATE {t} SET {p} = :a WHERE {p} = :b",
                  "UPDATE {t} SET {p} = :b WHERE {p} = -1", a=first, b=second)

    def insert(self, position: int) -> None:
        """Insert a made-up event at ``position``, moving that event and later ones up."""
        with self.sql.connect() as conn:
            row = conn.execute(text(
                f"SELECT originator_id, topic, state FROM {self.table} "
                f"WHERE {self.position} = :p"), {"p": position - 1}).one()
        self._run("UPDATE {t} SET {p} = -{p} WHERE {p} >= :pos",
                  "UPDATE {t} SET {p} = 1 - {p} WHERE {p} < 0",
                  "INSERT INTO {t} ({p}, originator_id, originator_version, topic, state) "
                  "VALUES (:pos, :o, 999, :topic, :state)",
                  pos=position, o=row.originator_id, topic=row.topic, state=bytes(row.state))

    def truncate(self, after: int) -> None:
        """Remove every event after position ``after``."""
        self._run("DELETE FROM {t} WHERE {p} > :pos", pos=after)
