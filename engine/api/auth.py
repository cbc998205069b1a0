"""Access control: bearer tokens with a role; every route names the permission it needs.

================  =================================================================
role              permissions
================  =================================================================
``ingest``        post facts
``viewer``        read views (reports, view status, a deal's current state), /metrics
``auditor``       what a viewer may, plus deal histories, rejections, the log export
                  and rebuilding views (replay)
``admin``         everything, including managing tokens
================  =================================================================

Denials are answered 401 (no, unknown or revoked token) or 403 (role lacks the
permission) and counted in ``dealflow_http_denied_total{route, reason}``.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from engine.api.errors import ApiError
from engine.metrics.http import route_of
from engine.serve.tokens import Role, TokenInfo, TokenRejectedError

__all__ = ["ROLE_PERMISSIONS", "Permission", "bearer", "require"]


class Permission(StrEnum):
    """What a route needs."""

    INGEST = "facts:write"
    VIEWS = "views:read"
    METRICS = "metrics:read"
    HISTORY = "history:read"
    REJECTIONS = "rejections:read"
    EXPORT = "log:read"
    REPLAY = "views:rebuild"
    TOKENS = "tokens:manage"


_VIEWER = {Permission.VIEWS, Permission.METRICS}
_AUDITOR = _VIEWER | {Permission.HISTORY, Permission.REJECTIONS, Permission.EXPORT,
                      Permission.REPLAY}
ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.INGEST: frozenset({Permission.INGEST}),
    Role.VIEWER: frozenset(_VIEWER),
    Role.AUDITOR: frozenset(_AUDITOR),
    Role.ADMIN: frozenset(Permission),
}

bearer = HTTPBearer(auto_error=False, scheme_name="token",
                    description="An API token from `dealflow token create`, as "
                    "`Authorization: Bearer dft_...`.")


def _deny(request: Request, status: int, reason: str, detail: str) -> ApiError:
    service: Any = request.app.state.service
    service.metrics.http_denied.labels(route_of(request.scope), reason).inc()
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return ApiError(status, "unauthenticated" if status == 401 else "forbidden", detail,
                    headers=headers)


def require(permission: Permission) -> Callable[..., TokenInfo]:
    """A dependency that admits a request only with a token whose role has ``permission``."""

    def authorize(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> TokenInfo:
        if credentials is None:
            raise _deny(request, 401, "missing_token", "an API token is required "
                        "(Authorization: Bearer ...)")
        try:
            info: TokenInfo = request.app.state.service.tokens.verify(credentials.credentials)
        except TokenRejectedError as exc:
            raise _deny(request, 401, f"{exc.reason}_token",
                        f"the API token is {exc.reason}") from None
        if permission not in ROLE_PERMISSIONS[info.role]:
            raise _deny(request, 403, "forbidden",
                        f"role {info.role.value!r} may not {permission.value}")
        return info

    authorize.__name__ = f"require_{permission.name.lower()}"
    return authorize
