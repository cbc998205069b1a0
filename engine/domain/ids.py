"""Stable aggregate ids derived from contract keys (a deal's subject, a rep's id)."""

from __future__ import annotations

from functools import lru_cache
from uuid import UUID, uuid5

__all__ = ["deal_id", "rep_id"]

_DEAL_NS = UUID("6f1c2b0e-8a4d-4c55-9d0e-5e7a1f0d2c01")
_REP_NS = UUID("6f1c2b0e-8a4d-4c55-9d0e-5e7a1f0d2c02")


# Bounded low enough to fill within minutes of a live service (about 4 MB): a bigger bound
# only looks like a leak for the hour it takes to fill, and a miss costs one uuid5 (~2 us).
@lru_cache(maxsize=16_384)
def deal_id(subject: str) -> UUID:
    """The Deal aggregate id for a contract ``subject``."""
    return uuid5(_DEAL_NS, subject)


@lru_cache(maxsize=4096)
def rep_id(rep: str) -> UUID:
    """The Rep aggregate id for a rep id."""
    return uuid5(_REP_NS, rep)
