"""The domain model: aggregates and their events (fixed stored names, versioned)."""

from engine.domain.deal import Deal
from engine.domain.escalation import Escalation
from engine.domain.facts import FactEvent, FactMeta
from engine.domain.ids import deal_id, rep_id
from engine.domain.rep import Rep
from engine.domain.routing_book import RoutingBook

__all__ = ["Deal", "Escalation", "FactEvent", "FactMeta", "Rep", "RoutingBook", "deal_id",
           "rep_id"]
