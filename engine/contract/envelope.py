"""Parse one input (bytes) into a validated :class:`Fact`, or raise ``InvalidFactError``.

The error names the offending field (``time``, ``data.amount``, ...). JSON numbers are
decoded as ``Decimal`` so amounts never pass through float.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, NamedTuple

import orjson
from pydantic import ValidationError

from engine.contract.data import DATA_MODELS, FactData
from engine.contract.limits import DEFAULT_LIMITS, InputLimits
from engine.contract.values import parse_timestamp
from engine.errors import InvalidFactError

__all__ = ["ENVELOPE_FIELDS", "Fact", "FactIdentity", "identity_of", "parse_fact"]

ENVELOPE_FIELDS = ("id", "type", "source", "time", "subject", "actor", "data")
_REQUIRED = ("id", "type", "source", "time", "subject", "data")
_ID_MAX = 128


class Fact(NamedTuple):
    """A validated fact of the external contract.

    A named tuple: one is made per input on the ingest hot path, in a fraction of a frozen
    dataclass's time (whose ``__init__`` sets each field through ``object.__setattr__``)."""

    id: str
    type: str
    source: str
    time: datetime
    subject: str
    actor: str | None
    data: FactData
    digest: str
    envelope_extra: dict[str, Any]

    @property
    def key(self) -> tuple[str, str]:
        """What identifies the fact at its source: (``source``, ``id``)."""
        return (self.source, self.id)

    @property
    def data_extra(self) -> dict[str, Any]:
        """Unknown fields of ``data``, kept as received."""
        return dict(self.data.model_extra or {})


_DECODER = json.JSONDecoder(parse_float=Decimal)


def _decode(raw: bytes | str) -> Any:
    # orjson first (~1.5x faster), but only where it gives exactly what the stock decoder
    # gives: it reads numbers with a fraction or exponent (and integers beyond 64 bits) as
    # floats where amounts must be Decimal, and refuses what ``json`` accepts beyond strict
    # JSON (NaN, lone surrogates) or fails differently (depth, bad UTF-8). So a result
    # holding a float, and any error, is decided by the stock decoder, as before.
    try:
        obj = orjson.loads(raw)
        if not _holds_float(obj):
            return obj
    except orjson.JSONDecodeError:
        pass
    try:
        return _DECODER.decode(raw.decode() if isinstance(raw, bytes) else raw)
    # UnicodeDecodeError is a ValueError; a number whose exponent overflows Decimal
    # (``1e99999999999999999999``) is an ArithmeticError (decimal.InvalidOperation).
    except (ValueError, ArithmeticError, RecursionError) as exc:
        raise InvalidFactError(f"(body): not JSON: {exc}", field="(body)") from exc


def _holds_float(obj: Any) -> bool:
    kind = type(obj)
    if kind is float:
        return True
    values = obj.values() if kind is dict else obj if kind is list else ()
    for value in values:
        kind = type(value)
        if kind is float or ((kind is dict or kind is list) and _holds_float(value)):
            return True
    return False


def _digest(obj: dict[str, Any]) -> str:
    # Content identity for duplicate-vs-conflict: canonical JSON, so key order and white
    # space do not matter, but any changed value does.
    try:
        canonical = orjson.dumps(obj, option=orjson.OPT_SORT_KEYS, default=str)
    except TypeError:  # integers beyond 64 bits: the slower encoder has no such limit
        canonical = json.dumps(obj, sort_keys=True, separators=(",", ":"),
                               default=str, ensure_ascii=False).encode()
    return hashlib.sha256(canonical).hexdigest()


def _string(obj: dict[str, Any], name: str, *, max_len: int | None = None) -> str:
    value = obj[name]
    if not isinstance(value, str):
        raise InvalidFactError(f"{name}: must be a string", field=name)
    if not value.strip():
        raise InvalidFactError(f"{name}: must not be empty", field=name)
    if max_len is not None and len(value) > max_len:
        raise InvalidFactError(f"{name}: longer than {max_len} characters", field=name)
    return value


#: The escapes that can make text no store keeps: NUL, and UTF-16 surrogates (a lone one
#: is not Unicode text; the stock decoder lets it through, orjson does not).
_UNSTORABLE_ESCAPE = re.compile(rb"\\u(0000|[dD][89a-fA-F])")
_UNSTORABLE_ESCAPE_TEXT = re.compile(r"\\u(0000|[dD][89a-fA-F])")


def _unstorable(text: str) -> str | None:
    """What makes ``text`` unstorable (a NUL, a lone surrogate), or None."""
    if "\x00" in text:
        return "a NUL character"
    try:
        text.encode()
    except UnicodeEncodeError:
        return "a lone surrogate (not Unicode text)"
    return None


#: Where a stored state's typed values hide: the event store writes a datetime, a decimal or
#: a date as an object whose only keys are these two, and reads every such object back as
#: that type. An input's own object of this shape (in ``data`` or ``extra``, which keep what
#: the source sent) would be stored as is and then read back as a type, or fail to be read
#: at all: the deal could never be loaded again. Refused at the contract, naming where.
_RESERVED_KEYS = frozenset({"_type_", "_data_"})


def _reserved_object(value: Any, path: str) -> str | None:
    """Where an object whose only keys are ``_type_`` and ``_data_`` hides, or None."""
    if isinstance(value, dict):
        if len(value) == 2 and value.keys() == _RESERVED_KEYS:
            return path or "(body)"
        for key, item in value.items():
            found = _reserved_object(item, f"{path}.{key}" if path else str(key))
            if found:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = _reserved_object(item, f"{path}.{index}" if path else str(index))
            if found:
                return found
    return None


def _text_fault(value: Any, path: str) -> tuple[str, str] | None:
    """Where unstorable text hides (no store keeps it), and what it is; or None."""
    if isinstance(value, str):
        what = _unstorable(value)
        return (path, what) if what else None
    if isinstance(value, dict):
        for key, item in value.items():
            what = _unstorable(key)
            if what:
                return f"{path}.{key!r}", what
            found = _text_fault(item, f"{path}.{key}" if path else str(key))
            if found:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = _text_fault(item, f"{path}.{index}")
            if found:
                return found
    return None


def _first_error(exc: ValidationError) -> tuple[str, str]:
    """Where the first error of ``exc`` is (``data.amount``) and what it says.

    A function of its own so that no frame of :func:`parse_fact` keeps the error dict: its
    context holds the validator's exception, whose traceback holds that frame, a cycle
    that would keep the whole calling batch alive until the collector runs."""
    error = exc.errors()[0]
    where = ".".join(str(part) for part in ("data", *error["loc"]))
    return where, error["msg"].removeprefix("Value error, ")


_Envelope = tuple[str, str, type[FactData], str, str, datetime, str | None]


def _envelope(obj: dict[str, Any]) -> _Envelope:
    """The envelope of ``obj``, checked field by field in the contract's order; raise
    ``InvalidFactError`` naming the first field that fails."""
    for name in _REQUIRED:
        if name not in obj or obj[name] is None:
            raise InvalidFactError(f"{name}: field required", field=name)
    fact_id = _string(obj, "id", max_len=_ID_MAX)
    fact_type = _string(obj, "type")
    model = DATA_MODELS.get(fact_type)
    if model is None:
        raise InvalidFactError(f"type: unknown type {fact_type!r}", field="type")
    source = _string(obj, "source")
    subject = _string(obj, "subject")
    try:
        time = parse_timestamp(obj["time"])
    except ValueError as exc:
        raise InvalidFactError(f"time: {exc}", field="time") from exc
    actor = obj.get("actor")
    if actor is not None:
        actor = _string(obj, "actor")
    return fact_id, fact_type, model, source, subject, time, actor


def _text(value: Any) -> bool:
    # A string that is not blank: its first character is not white space (``strip`` and
    # ``isspace`` agree on what white space is, for every code point).
    return type(value) is str and value != "" and not value[0].isspace()


def _envelope_fast(obj: dict[str, Any]) -> _Envelope | None:
    """The envelope of ``obj`` when every field is plainly valid (nearly every fact), else
    None: then :func:`_envelope` decides, and names the first field that fails. Accepts
    exactly what :func:`_envelope` accepts, with the same values, in fewer steps."""
    get = obj.get
    fact_id: Any = get("id")
    fact_type: Any = get("type")
    source: Any = get("source")
    subject: Any = get("subject")
    actor: Any = get("actor")
    model = DATA_MODELS.get(fact_type) if type(fact_type) is str else None
    if (model is None or not _text(fact_id) or len(fact_id) > _ID_MAX
            or not _text(source) or not _text(subject) or get("data") is None
            or (actor is not None and not _text(actor))):
        return None
    try:
        time = parse_timestamp(get("time"))
    except ValueError:
        return None
    return fact_id, fact_type, model, source, subject, time, actor


def parse_fact(raw: bytes | str, limits: InputLimits = DEFAULT_LIMITS) -> Fact:
    """Validate one contract object; raise ``InvalidFactError`` naming the field (or the
    limit of :mod:`engine.contract.limits` it exceeds)."""
    limits.check_size(raw)
    obj = _decode(raw)
    if not isinstance(obj, dict):
        raise InvalidFactError("(body): not a JSON object", field="(body)")
    limits.check_shape(raw, obj)
    if (_UNSTORABLE_ESCAPE.search(raw) if isinstance(raw, bytes)
            else _UNSTORABLE_ESCAPE_TEXT.search(raw)):
        found = _text_fault(obj, "")
        if found:
            where, what = found
            raise InvalidFactError(f"{where}: contains {what}", field=where)
    # Fast path: nearly every fact has neither the key's text nor an escape that could spell it.
    if ((b"_type_" in raw or b"\\u" in raw) if isinstance(raw, bytes)
            else ("_type_" in raw or "\\u" in raw)):
        reserved = _reserved_object(obj, "")
        if reserved:
            raise InvalidFactError(
                f"{reserved}: an object whose only keys are _type_ and _data_, which the "
                "event store reserves for its typed values (add or rename a key)",
                field=reserved)
    fields = _envelope_fast(obj)
    if fields is None:
        fields = _envelope(obj)
    fact_id, fact_type, model, source, subject, time, actor = fields
    data = obj["data"]
    if not isinstance(data, dict):
        raise InvalidFactError("data: must be an object", field="data")
    try:
        # ``model_validate`` is this call behind a Python frame of argument checks (~0.5 us
        # a fact); the same validator, the same result and errors.
        parsed: FactData = model.__pydantic_validator__.validate_python(data)
    except ValidationError as exc:
        where, message = _first_error(exc)
        raise InvalidFactError(f"{where}: {message}", field=where) from exc
    # Nearly every fact has only envelope fields: its six required ones (all present by
    # now) and perhaps ``actor``.
    extra = ({} if len(obj) == (7 if "actor" in obj else 6)
             else {k: v for k, v in obj.items() if k not in ENVELOPE_FIELDS})
    # By position, in the order of Fact's fields: keywords cost ~1 us more per fact.
    return Fact(fact_id, fact_type, source, time, subject, actor, parsed, _digest(obj), extra)


@dataclass(frozen=True, slots=True)
class FactIdentity:
    """Who an input that failed validation was, as far as it says so validly: each of
    ``source``, ``id``, ``type`` and ``subject`` that is present and would pass validation
    on its own (a string, not blank, no NUL; ``id`` at most 128 characters; ``type`` a
    contract type), else ``None``."""

    source: str | None = None
    id: str | None = None
    type: str | None = None
    subject: str | None = None


def identity_of(raw: bytes | str) -> FactIdentity:
    """The :class:`FactIdentity` of an input (all ``None`` if it is not a JSON object).

    Only the refusal path calls this, so decoding the input a second time costs nothing
    on the hot path."""
    try:
        obj = _decode(raw)
    except InvalidFactError:
        return FactIdentity()
    if not isinstance(obj, dict):
        return FactIdentity()

    def valid(name: str, max_len: int | None = None) -> str | None:
        value = obj.get(name)
        if not isinstance(value, str) or not value.strip() or _unstorable(value):
            return None
        return None if max_len is not None and len(value) > max_len else value

    fact_type = valid("type")
    return FactIdentity(source=valid("source"), id=valid("id", _ID_MAX),
                        type=fact_type if fact_type in DATA_MODELS else None,
                        subject=valid("subject"))
