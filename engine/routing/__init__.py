"""Routing as data (contract 1.1): definitions, their registry and the decision."""

from engine.routing.decision import Decision, decide, is_eligible
from engine.routing.model import ROUTING_NAME, DealToRoute, Match, RoutingDefinition, RuleSpec
from engine.routing.registry import RoutingRegistry, routing_from_mapping

__all__ = [
    "ROUTING_NAME",
    "DealToRoute",
    "Decision",
    "Match",
    "RoutingDefinition",
    "RoutingRegistry",
    "RuleSpec",
    "decide",
    "is_eligible",
    "routing_from_mapping",
]
