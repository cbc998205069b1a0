"""Admin routes: API tokens (the CLI's ``dealflow token`` does the same)."""

# No ``from __future__ import annotations``: FastAPI must evaluate the route annotations,
# which refer to page limits local to the router factories.

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from starlette.concurrency import run_in_threadpool

from engine.api.auth import Permission, require
from engine.api.common import PRINTABLE, Cursor, ServiceDep, decode_cursor, encode_cursor
from engine.api.errors import ApiError, problems
from engine.api.schemas import TokenCreate, TokenCreated, TokenInfoOut, TokenPage
from engine.serve.tokens import TokenError, TokenInfo

__all__ = ["tokens_router"]


def _out(info: TokenInfo) -> TokenInfoOut:
    return TokenInfoOut(token_id=info.token_id, name=info.name, role=info.role,
                        created_at=info.created_at, revoked_at=info.revoked_at)


def tokens_router(page_max: int) -> APIRouter:
    """The routes (page limits from settings)."""
    router = APIRouter(tags=["tokens"])
    Admin = Annotated[object, Depends(require(Permission.TOKENS))]

    @router.get("/v1/tokens", response_model=TokenPage, responses=problems(400, 401, 403, 422),
                summary="List API tokens (admins)")
    async def list_tokens(
        service: ServiceDep, _: Admin, cursor: Cursor = None,
        limit: Annotated[int, Query(ge=1, le=page_max)] = 100,
        include_revoked: bool = False,
    ) -> TokenPage:
        """Tokens by id, without secrets."""
        after = decode_cursor(cursor, numeric=False)
        found = await run_in_threadpool(lambda: service.tokens.list(
            include_revoked=include_revoked, after=after, limit=limit + 1))
        items = [_out(t) for t in found[:limit]]
        more = len(found) > limit
        return TokenPage(items=items,
                         next_cursor=encode_cursor(items[-1].token_id) if more else None)

    @router.post("/v1/tokens", response_model=TokenCreated, status_code=201,
                 responses=problems(401, 403, 409, 422), summary="Create an API token (admins)")
    async def create_token(body: TokenCreate, service: ServiceDep, _: Admin) -> TokenCreated:
        """A new token; its secret is in this response only."""
        try:
            issued = await run_in_threadpool(service.tokens.create, body.role, body.name)
        except TokenError as exc:
            raise ApiError(409, "conflict", str(exc)) from exc
        return TokenCreated(**_out(issued.info).model_dump(), token=issued.secret)

    @router.delete("/v1/tokens/{token_id}", response_model=TokenInfoOut,
                   responses=problems(401, 403, 404, 422),
                   summary="Revoke an API token (admins)")
    async def revoke_token(
        token_id: Annotated[str, Path(min_length=1, max_length=200, pattern=PRINTABLE,
                                      description="Token id (or an active token's name).")],
        service: ServiceDep, _: Admin,
    ) -> TokenInfoOut:
        """Revoke at once in this process (others within their token cache time)."""
        try:
            info = await run_in_threadpool(service.tokens.revoke, token_id)
        except TokenError as exc:
            raise ApiError(404, "not_found", str(exc)) from exc
        return _out(info)

    return router
