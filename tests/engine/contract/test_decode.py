"""The fast body decoder gives exactly the stock decoder's values, or its error."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.contract import envelope
from engine.errors import InvalidFactError

_STOCK = json.JSONDecoder(parse_float=Decimal)

_scalars = (
    st.none() | st.booleans() | st.text()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
)
_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


def _stock(raw: bytes) -> Any:
    return _STOCK.decode(raw.decode())


@given(_values)
def test_values_are_the_stock_decoders(value: Any) -> None:
    raw = json.dumps(value, ensure_ascii=False).encode()
    decoded = envelope._decode(raw)
    assert repr(decoded) == repr(_stock(raw))  # Decimal stays Decimal, int stays int


@pytest.mark.parametrize("raw", [
    b'{"amount": 12.50}', b'{"n": 18446744073709551616}', b'{"n": -9223372036854775809}',
    b'{"a": NaN}', b'{"a": "\\ud800"}', b'{"a": 1, "a": 2}', b'[1e400]',
    b'{"x": [1, {"y": 0.1}]}',
])
def test_what_orjson_reads_otherwise_is_read_by_the_stock_decoder(raw: bytes) -> None:
    assert repr(envelope._decode(raw)) == repr(_stock(raw))


@pytest.mark.parametrize("raw", [b'"\xff"', b"[" * 5000 + b"]" * 5000, b'{"a": 1} x',
                                 '\ufeff{"a": 1}'.encode()])
def test_what_neither_reads_is_rejected_naming_the_body(raw: bytes) -> None:
    with pytest.raises(InvalidFactError) as caught:
        envelope._decode(raw)
    assert caught.value.field == "(body)"
