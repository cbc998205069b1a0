"""The audit trail's tables, beside the event log in the same database.

``dealflow_audit_chain``
    one row per chained event: its log position, its index in the chain (``seq``, from 0),
    its identity (aggregate id and version) and its chain entry.
``dealflow_audit_state``
    one row: the chain's random log id, size, last position, head and Merkle frontier,
    written in the same transaction as the rows it accounts for.
``dealflow_audit_checkpoints``
    every signed checkpoint, as the JSON document that was signed.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Integer, LargeBinary, MetaData, String, Table, Text

__all__ = ["AUDIT_METADATA", "CHAIN", "CHECKPOINTS", "STATE"]

AUDIT_METADATA = MetaData()

# INTEGER PRIMARY KEY makes the position SQLite's rowid: no second b-tree to maintain.
_Position = BigInteger().with_variant(Integer(), "sqlite")

CHAIN = Table(
    "dealflow_audit_chain",
    AUDIT_METADATA,
    Column("position", _Position, primary_key=True, autoincrement=False),
    Column("seq", BigInteger, nullable=False),
    Column("originator_id", String(32), nullable=False),
    Column("originator_version", BigInteger, nullable=False),
    Column("entry", LargeBinary(32), nullable=False),
)

STATE = Table(
    "dealflow_audit_state",
    AUDIT_METADATA,
    Column("name", String(16), primary_key=True),
    Column("log", String(36), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("position", BigInteger, nullable=False),
    Column("head", LargeBinary(32), nullable=False),
    Column("frontier", LargeBinary, nullable=False),
)

CHECKPOINTS = Table(
    "dealflow_audit_checkpoints",
    AUDIT_METADATA,
    Column("size", _Position, primary_key=True, autoincrement=False),
    Column("position", BigInteger, nullable=False),
    Column("document", Text, nullable=False),
)
