"""ASGI middleware counting requests and their latency by route template (bounded labels)."""

from __future__ import annotations

import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from engine.metrics.instruments import Metrics

__all__ = ["HttpMetricsMiddleware", "route_of"]

UNMATCHED = "(unmatched)"
#: The methods counted under their own name; any other token a client sends (HTTP allows
#: any) counts as ``(other)``, so requests cannot add series without bound.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
OTHER_METHOD = "(other)"


def route_of(scope: Scope) -> str:
    """The matched route's path template (``/v1/deals/{subject}``), never the raw path."""
    route: Any = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else UNMATCHED


class HttpMetricsMiddleware:
    """Counts ``dealflow_http_requests_total`` and observes
    ``dealflow_http_request_duration_seconds`` for every HTTP request."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        """Wrap ``app``."""
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Time the request; the route is known once the router has matched it."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = route_of(scope)
            method = scope.get("method")
            method = method if method in METHODS else OTHER_METHOD
            self.metrics.http_requests.labels(method, route, str(status)).inc()
            self.metrics.http_seconds.labels(method, route).observe(
                time.perf_counter() - started)
