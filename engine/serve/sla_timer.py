"""The SLA timer as ``serve`` runs it (in its views process or a thread): it says in the
log what its first tick appended.

The first tick after a start judges every deal, and on a store that was never ticked (or
was down for a while) it may append thousands of breaches at once, which then page through
the alert rules; the log line says where they came from.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.bootstrap import Engine
    from projections.runner import ProjectionRunner
    from projections.sla.timer import SlaTimer

__all__ = ["serve_sla_timer"]

log = logging.getLogger("engine.serve.sla_timer")


def serve_sla_timer(engine: Engine, runner: ProjectionRunner | None) -> SlaTimer:
    """The engine's SLA timer, not started, whose first tick (in this process, once it
    holds the timer's lock) is logged with what it appended."""
    timer = engine.sla_timer(runner)
    follower = timer.follower
    tick = follower.step

    def first_tick() -> int:
        appended = tick()
        follower.step = tick
        log.info("SLA timer: first tick judged %s deals and appended %s escalation events "
                 "(breaches, corrections and escalation steps); next tick in %gs",
                 f"{timer.judged_deals:,}", f"{appended:,}", engine.settings.sla_timer_interval)
        return appended

    follower.step = first_tick
    return timer
