"""A faster transcoder for eventsourcing's JSON format (same bytes, same values).

Encoding runs on the ingest hot path for every event, and decoding on every read of the log
(rebuilds, followers, loading aggregates), so both use orjson; the format stays the one
eventsourcing's ``JSONTranscoder`` writes and reads (``{"_type_": ..., "_data_": ...}`` for
datetimes, dates, decimals). Event states hold no UUID values (orjson would write those as
plain strings); ids are kept as strings.

Decoding gives exactly what the stock decoder gives: wrappers are revived by the same test
and the same registered transcodings as its ``_decode_obj``, children first, the order
json's ``object_hook`` runs in. Wherever orjson and the ``json`` module could differ, the
stock decoder decides: orjson refuses what ``json`` accepts beyond strict JSON (``NaN``,
lone surrogates, numbers that overflow a double), and it reads integers beyond 64 bits as
floats, so a state holding any float is decoded again by the stock decoder (dealflow's
events hold none: amounts are decimals). Any error also goes back to the stock decoder,
which raises what it always raised.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone, tzinfo
from decimal import Decimal
from typing import Any

import orjson
from eventsourcing.persistence import DatetimeAsISO, DecimalAsStr, JSONTranscoder, Transcoding

__all__ = ["FastJSONTranscoder"]

_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


#: tzinfo -> whether orjson writes a datetime with it exactly as ``datetime.isoformat`` does
#: (see :func:`_isoformat`); fixed offsets only, bounded.
_ORJSON_WRITES_ISO: dict[tzinfo | None, bool] = {None: True}


def _isoformat(o: datetime) -> str:
    """``o.isoformat()``, written by orjson where that gives the same text (~3x faster).

    orjson writes RFC 3339 as ``isoformat`` does (microseconds only when not zero, a
    numeric offset, ``+00:00`` for UTC), except for an offset with seconds, which it rounds
    to minutes: only naive datetimes and fixed offsets of whole minutes (the timezone objects
    of facts' times and of event timestamps) take this way; a zone whose offset depends on
    the date (zoneinfo) goes to ``isoformat``."""
    tz = o.tzinfo
    same = _ORJSON_WRITES_ISO.get(tz)
    if same is None:
        offset = tz.utcoffset(None) if type(tz) is timezone else None
        same = offset is not None and offset % timedelta(minutes=1) == timedelta(0)
        if len(_ORJSON_WRITES_ISO) < 256:
            _ORJSON_WRITES_ISO[tz] = same
    return orjson.dumps(o)[1:-1].decode() if same else o.isoformat()


class _StockDecodes(Exception):
    """Raised inside the fast path when only the stock decoder can be trusted."""


class FastJSONTranscoder(JSONTranscoder):
    """``JSONTranscoder`` whose ``encode`` and ``decode`` use orjson (same format, same
    values; see the module docstring)."""

    def __init__(self) -> None:
        """As the stock transcoder, with the fast path's table empty (see ``register``)."""
        super().__init__()
        # type -> (name, encode) for the stock transcodings of the types every event holds
        # (its timestamps, its amounts), called without ``_encode_obj``'s two extra levels.
        self._direct: dict[type, tuple[str, Callable[[Any], str]]] = {}

    def register(self, transcoding: Transcoding) -> None:
        """Register ``transcoding``; the stock datetime and decimal ones (exactly those
        classes) are also encoded directly, to the same ``_type_``/``_data_`` wrapper."""
        super().register(transcoding)
        self._direct.pop(transcoding.type, None)
        if type(transcoding) is DatetimeAsISO and transcoding.type is datetime:
            self._direct[datetime] = (transcoding.name, _isoformat)
        elif type(transcoding) is DecimalAsStr and transcoding.type is Decimal:
            self._direct[Decimal] = (transcoding.name, Decimal.__str__)

    def _encode_direct(self, o: Any) -> dict[str, Any]:
        direct = self._direct.get(type(o))
        if direct is None:
            return self._encode_obj(o)
        return {"_type_": direct[0], "_data_": direct[1](o)}

    def encode(self, obj: Any) -> bytes:
        """Encode ``obj``; non-JSON types go through the registered transcodings."""
        try:
            return orjson.dumps(obj, default=self._encode_direct, option=_OPTIONS)
        except TypeError:  # e.g. an integer beyond 64 bits kept from an unknown field
            return super().encode(obj)

    def decode(self, data: bytes) -> Any:
        """Decode ``data`` to exactly what ``JSONTranscoder.decode`` returns (or raise
        what it raises)."""
        try:
            obj = orjson.loads(data)
            return _revive_dict(obj, self.names) if type(obj) is dict else _revive(obj, self.names)
        except Exception:  # the stock decoder gives the value, or the error, it always gave
            return super().decode(data)


def _revive(obj: Any, names: dict[str, Transcoding]) -> Any:
    kind = type(obj)
    if kind is dict:
        return _revive_dict(obj, names)
    if kind is list:
        for i, value in enumerate(obj):
            kind = type(value)
            if kind is dict or kind is list:
                obj[i] = _revive(value, names)
            elif kind is float:
                raise _StockDecodes
        return obj
    if kind is float:
        raise _StockDecodes
    return obj


def _revive_dict(obj: dict[str, Any], names: dict[str, Transcoding]) -> Any:
    # Children first, then the dict itself: the order json's ``object_hook`` runs in.
    for key, value in obj.items():  # replacing a value keeps the size: allowed
        kind = type(value)
        if kind is dict:
            obj[key] = _revive_dict(value, names)
        elif kind is list:
            obj[key] = _revive(value, names)
        elif kind is float:
            raise _StockDecodes
    if len(obj) == 2 and "_type_" in obj and "_data_" in obj:  # as ``_decode_obj``
        return names[obj["_type_"]].decode(obj["_data_"])
    return obj
