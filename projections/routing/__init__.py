"""The routing view: rep profiles, routing decisions and open loads (docs/routing.md)."""

from projections.routing.projection import NO_OWNER, RoutingProjection
from projections.routing.report import RepRouting, RoutingReport, build_report

__all__ = ["NO_OWNER", "RepRouting", "RoutingProjection", "RoutingReport", "build_report"]
