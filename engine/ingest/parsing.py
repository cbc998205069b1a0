"""The parse step of ingest, run in helper processes (see :mod:`engine.ingest.parallel`).

Kept apart from the writer's modules so that a spawned helper imports only the contract
(pydantic models and the envelope parser), not the store, the domain or the views.
"""

from __future__ import annotations

import traceback
from typing import Any

from engine.contract.envelope import Fact, parse_fact
from engine.contract.limits import InputLimits
from engine.errors import FactRejectedError

__all__ = ["parse_chunk", "serve_parsing"]


def parse_chunk(raws: list[bytes], limits: InputLimits) -> list[Fact | None]:
    """Each input's validated fact, or None where it is refused: the writer parses those
    again itself, so that a refusal carries exactly the error one process would give."""
    parsed: list[Fact | None] = []
    for raw in raws:
        try:
            parsed.append(parse_fact(raw, limits))
        except FactRejectedError:
            parsed.append(None)
    return parsed


def serve_parsing(inbox: Any, outbox: Any, limits: InputLimits) -> None:
    """A helper's loop: ``(sequence, raws)`` in, ``("parsed", sequence, facts)`` out, until
    None; a failure is sent as ``("error", sequence, traceback)``."""
    sequence = -1
    try:
        while (job := inbox.get()) is not None:
            sequence, raws = job
            outbox.put(("parsed", sequence, parse_chunk(raws, limits)))
    except BaseException:
        outbox.put(("error", sequence, traceback.format_exc()))
