"""What the routes share: the service, cursors, the read-your-writes guard, body limits."""

from __future__ import annotations

import base64
import binascii
import re
from typing import Annotated, Any

from fastapi import Depends, Query, Request
from starlette.concurrency import run_in_threadpool

from engine.api.errors import ApiError
from engine.serve.service import Service

__all__ = [
    "PRINTABLE", "Cursor", "MinPosition", "ServiceDep", "decode_cursor", "encode_cursor",
    "ensure_position", "get_service", "read_body",
]


def get_service(request: Request) -> Service:
    """The service the app was created for."""
    service: Service = request.app.state.service
    return service


ServiceDep = Annotated[Service, Depends(get_service)]
#: Text that a database column can hold: no control characters (PostgreSQL refuses NUL).
PRINTABLE = r"^[^\x00-\x1f\x7f]*$"
Cursor = Annotated[str | None, Query(
    description="Opaque cursor from a previous page's next_cursor.", max_length=200)]
MinPosition = Annotated[int | None, Query(
    ge=0, description="Read-your-writes: wait (up to the server's limit) until the views "
    "have applied this log position, e.g. the position a write returned.")]


def encode_cursor(value: int | str) -> str:
    """An opaque cursor for ``value``."""
    return base64.urlsafe_b64encode(str(value).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None, *, numeric: bool = True) -> Any:
    """The value inside ``cursor`` (0 or "" when none); 400 when it is not one of ours."""
    if cursor is None:
        return 0 if numeric else ""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        if re.match(PRINTABLE, text) is None:
            raise ValueError(text)
        return int(text) if numeric else text
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise ApiError(400, "invalid_cursor", "cursor is not one this server "
                       "issued") from None


async def ensure_position(service: Service, min_position: int | None) -> None:
    """Wait until the views have applied ``min_position``; 400 if it is past the log head,
    503 if the views do not get there in time."""
    if not min_position:
        return
    head = await run_in_threadpool(service.head)
    if min_position > head:
        raise ApiError(400, "bad_position", f"position {min_position} is beyond the log "
                       f"head {head}")
    if not await run_in_threadpool(service.wait_for, min_position):
        raise ApiError(503, "unavailable", f"the views have not reached position "
                       f"{min_position} yet; retry", headers={"Retry-After": "1"})


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refusing (413) more than ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise ApiError(413, "too_large", f"body of {declared} bytes, more than the limit "
                       f"api_max_body_bytes={limit}")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(413, "too_large", f"body larger than the limit "
                           f"api_max_body_bytes={limit}")
        chunks.append(chunk)
    return b"".join(chunks)
