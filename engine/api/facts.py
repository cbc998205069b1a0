"""POST facts, one or a batch, with the contract's validation and rejection semantics.

The body's bytes go to the ingestor unchanged, so an HTTP fact is judged exactly like a
Kafka message or a JSONL line: rejected inputs are stored with their original bytes and
reason, duplicates change nothing. A batch is a JSON array of fact objects or NDJSON (one
object per line); each item gets an outcome, in request order. A body that is neither is
one input, rejected as not a fact.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from engine.api.auth import Permission, require
from engine.api.common import ServiceDep, read_body
from engine.api.errors import ApiError, problems
from engine.api.schemas import FactOutcome, FactResult, IngestResult, RejectedOrInvalid
from engine.contract.data import DATA_MODELS
from engine.errors import ConcurrencyConflictError, OverloadedError, StoreUnavailableError
from engine.ingest.batch import BatchResult, Outcome, RawInput
from engine.serve.service import Service

__all__ = ["FACT_SCHEMA", "router", "split_batch"]

FACT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "A fact of the external event contract (docs/contract.md).",
    "required": ["id", "type", "source", "time", "subject", "data"],
    "properties": {
        "id": {"type": "string", "minLength": 1, "maxLength": 128},
        "type": {"type": "string", "enum": sorted(DATA_MODELS)},
        "source": {"type": "string", "minLength": 1},
        "time": {"type": "string", "format": "date-time"},
        "subject": {"type": "string", "minLength": 1},
        "actor": {"type": "string"},
        "data": {"type": "object"},
    },
}
_NDJSON = ("application/x-ndjson", "application/jsonl", "application/json-lines")
_SPACE = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()

router = APIRouter(tags=["facts"])
Wait = Annotated[bool, Query(description="Read-your-writes: answer only once the views "
                             "have applied this request's position (up to the server's "
                             "limit); `visible` says whether they did.")]


def split_batch(body: bytes, content_type: str) -> list[bytes] | None:
    """The items of a batch body as their original bytes, or None if it is not a batch."""
    if content_type.split(";")[0].strip().lower() in _NDJSON:
        return [line.strip() for line in body.splitlines() if line.strip()]
    try:
        text = body.decode()
    except UnicodeDecodeError:
        return None
    at = _SPACE.match(text, 0).end()  # type: ignore[union-attr]
    if text[at:at + 1] != "[":
        return None
    at = _SPACE.match(text, at + 1).end()  # type: ignore[union-attr]
    items: list[bytes] = []
    if text[at:at + 1] == "]":
        return items if not text[at + 1:].strip() else None
    while True:
        try:
            _, end = _DECODER.raw_decode(text, at)
        except ValueError:
            return None
        items.append(text[at:end].encode())
        at = _SPACE.match(text, end).end()  # type: ignore[union-attr]
        if text[at:at + 1] == "]":
            return items if not text[at + 1:].strip() else None
        if text[at:at + 1] != ",":
            return None
        at = _SPACE.match(text, at + 1).end()  # type: ignore[union-attr]


def _outcome_json(index: int, o: Outcome) -> dict[str, Any]:
    return {"index": index, "status": o.status, "source": o.source, "id": o.fact_id,
            "type": o.fact_type, "reason": o.reason, "field": o.field, "message": o.message}


def _outcome(index: int, o: Outcome) -> FactOutcome:
    return FactOutcome(index=index, status=o.status,  # type: ignore[arg-type]
                       source=o.source, id=o.fact_id, type=o.fact_type, reason=o.reason,
                       field=o.field, message=o.message)


def _overloaded(service: Service, detail: str) -> ApiError:
    service.metrics.http_refused.labels("overloaded").inc()
    return ApiError(503, "overloaded", detail, headers={"Retry-After": "1"})


def _unavailable(service: Service, detail: str) -> ApiError:
    service.metrics.http_refused.labels("store_unavailable").inc()
    return ApiError(503, "store_unavailable", detail, headers={"Retry-After": "1"})


def _admit_any(service: Service) -> None:
    """Refuse (503) before reading the body when the store is down or the group commit's
    queue is full."""
    if service.health is not None and service.health.down is not None:
        raise _unavailable(service, f"the store is unavailable ({service.health.down}); "
                           "nothing was stored; retry")
    why = service.committer.full()
    if why is not None:
        raise _overloaded(service, why)


async def _store(service: Service, inputs: list[RawInput], wait: bool
                 ) -> tuple[BatchResult, int, bool | None]:
    try:
        # The places are taken here, before waiting for a thread: requests beyond the bound
        # are answered at once instead of piling up (with their bodies) for a thread.
        with service.committer.admitted(len(inputs)):
            result = await run_in_threadpool(service.ingest, inputs)
    except OverloadedError as exc:
        raise _overloaded(service, str(exc)) from exc
    except StoreUnavailableError as exc:
        raise _unavailable(service, str(exc)) from exc
    except ConcurrencyConflictError as exc:
        raise ApiError(503, "unavailable", str(exc), headers={"Retry-After": "1"}) from exc
    position = result.last_position
    if position is None:
        position = await run_in_threadpool(service.head)
    visible = await run_in_threadpool(service.wait_for, position) if wait else None
    return result, position, visible


_FACT_BODY = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": FACT_SCHEMA}}}}
_BATCH_BODY = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": {"type": "array", "items": FACT_SCHEMA}},
    "application/x-ndjson": {"schema": {"type": "string", "description":
                                        "One fact object per line."}},
}}}


@router.post(
    "/v1/facts", status_code=201, response_model=FactResult, openapi_extra=_FACT_BODY,
    summary="Post one fact",
    responses={200: {"model": FactResult, "description": "A duplicate: changed nothing"},
               201: {"description": "Accepted"},
               422: {"model": RejectedOrInvalid, "description": "Rejected (and stored with "
                     "its reason), or invalid request parameters"},
               **problems(401, 403, 413, 503)},
)
async def post_fact(request: Request, response: Response, service: ServiceDep,
                    _: Annotated[object, Depends(require(Permission.INGEST))],
                    wait: Wait = False) -> FactResult:
    """Judge and store one fact: 201 accepted, 200 duplicate, 422 rejected (stored)."""
    _admit_any(service)
    body = await read_body(request, service.settings.api_max_body_bytes)
    result, position, visible = await _store(service, [RawInput(body, "http")], wait)
    outcome = _outcome(0, result.outcomes[0])
    response.status_code = {"accepted": 201, "duplicate": 200}.get(outcome.status, 422)
    return FactResult(position=position, visible=visible, outcome=outcome)


@router.post(
    "/v1/facts/batch", response_model=IngestResult, openapi_extra=_BATCH_BODY,
    summary="Post a batch of facts",
    responses=problems(401, 403, 413, 422, 503),
)
async def post_batch(request: Request, service: ServiceDep,
                     _: Annotated[object, Depends(require(Permission.INGEST))],
                     wait: Wait = False) -> Any:
    """Judge and store a batch in one transaction; one outcome per item, in order."""
    settings = service.settings
    _admit_any(service)
    body = await read_body(request, settings.api_max_body_bytes)
    items = split_batch(body, request.headers.get("content-type", "application/json"))
    if items is None:
        items = [body]  # not a batch: one input, judged (and rejected) like any other
    if len(items) > settings.api_max_batch:
        raise ApiError(413, "too_large", f"{len(items)} facts in one batch, more than the "
                       f"limit api_max_batch={settings.api_max_batch}")
    inputs = [RawInput(item, f"http:{i}") for i, item in enumerate(items)]
    if not inputs:
        head = await run_in_threadpool(service.head)
        return IngestResult(position=head, visible=True if wait else None, inputs=0,
                            accepted=0, duplicates=0, rejected=0, events=0, outcomes=[])
    result, position, visible = await _store(service, inputs, wait)
    # Built as plain JSON (the shape of IngestResult) rather than validated models: a batch
    # of 500 outcomes would otherwise cost more to answer than to parse.
    answer = {
        "position": position, "visible": visible, "inputs": len(inputs),
        "accepted": result.accepted, "duplicates": result.duplicates,
        "rejected": sum(result.rejected.values()), "events": result.events,
        "outcomes": [_outcome_json(i, o) for i, o in enumerate(result.outcomes)],
    }
    return Response(orjson.dumps(answer), media_type="application/json")
