"""A faster encoder for eventsourcing's JSON format (same bytes layout, same decoder).

Encoding runs on the ingest hot path for every event, so it uses orjson; the output is the
format eventsourcing's ``JSONTranscoder`` reads (``{"_type_": ..., "_data_": ...}`` for
datetimes, dates, decimals), so decoding stays the stock one. Event states hold no UUID
values (orjson would write those as plain strings); ids are kept as strings.
"""

from __future__ import annotations

from typing import Any

import orjson
from eventsourcing.persistence import JSONTranscoder

__all__ = ["FastJSONTranscoder"]

_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


class FastJSONTranscoder(JSONTranscoder):
    """``JSONTranscoder`` whose ``encode`` is orjson with the registered transcodings."""

    def encode(self, obj: Any) -> bytes:
        """Encode ``obj``; non-JSON types go through the registered transcodings."""
        try:
            return orjson.dumps(obj, default=self._encode_obj, option=_OPTIONS)
        except TypeError:  # e.g. an integer beyond 64 bits kept from an unknown field
            return super().encode(obj)
