"""The orjson transcoder decodes exactly what eventsourcing's stock ``JSONTranscoder``
decodes: every stored event of a demo store, and the inputs where orjson and ``json``
part ways (integers beyond 64 bits, floats, non-strict JSON, unknown wrappers); and
encodes what it encodes (datetimes written by orjson where that gives ``isoformat``'s
text)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.persistence import (
    DatetimeAsISO,
    JSONTranscoder,
    TranscodingNotRegisteredError,
)
from hypothesis import given
from hypothesis import strategies as st

from engine.bootstrap import bootstrap
from engine.demo import generate
from engine.ingest.batch import RawInput
from engine.settings import Settings
from engine.store.app import DealflowApplication
from engine.store.transcoder import FastJSONTranscoder, _isoformat


def _pair(app: DealflowApplication) -> tuple[FastJSONTranscoder, JSONTranscoder]:
    fast, stock = FastJSONTranscoder(), JSONTranscoder()
    app.register_transcodings(fast)
    app.register_transcodings(stock)
    return fast, stock


def _same(a: Any, b: Any) -> bool:
    """Equal, of the same types, with dict keys in the same order, all the way down."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b) or (a != a and b != b)  # NaN equals NaN here


def test_every_stored_event_of_a_demo_store_decodes_the_same(tmp_path: Path) -> None:
    engine = bootstrap(Settings(db=f"sqlite:///{tmp_path}/demo.db"))
    try:
        lines = list(generate(5, deals=150))
        for start in range(0, len(lines), 500):
            engine.ingestor.ingest([RawInput(raw, f"demo:{start + i}")
                                    for i, raw in enumerate(lines[start : start + 500])])
        assert isinstance(engine.app.mapper.transcoder, FastJSONTranscoder)
        fast, stock = _pair(engine.app)
        notifications = engine.app.recorder.select_notifications(start=1, limit=10**6)
        assert len(notifications) > 1000
        topics = set()
        for n in notifications:
            assert _same(fast.decode(n.state), stock.decode(n.state)), n.state
            topics.add(n.topic)
        assert len(topics) >= 10  # the demo covers most kinds of event
    finally:
        engine.close()


@pytest.mark.parametrize("data", [
    b'{"n": 18446744073709551616, "m": -9223372036854775809}',  # beyond 64 bits
    b'{"n": 18446744073709551615, "m": -9223372036854775808}',  # at the limits
    b'{"x": 1.5, "y": [0.1, {"z": 1e-400}], "w": -0.0}',
    b'{"big": 1e400, "nan": NaN, "inf": -Infinity}',
    b'{"s": "\\ud800", "t": "\\u00e9\\u0000"}',
    b'{"a": 1, "b": 2, "a": 3}',
    b'[{"_type_": "decimal_str", "_data_": "1.10"}, [{"_type_": "date_iso", '
    b'"_data_": "2026-02-03"}], {"_type_": "datetime_iso", "_data_": '
    b'"2026-01-01T08:00:14+08:00", "more": 1}]',
    b'{"_type_": "uuid_hex", "_data_": "0123456789abcdef0123456789abcdef"}',
    b'{"_type_": "decimal_str"}',
    b'"text"',
    b"12",
    b"null",
])
def test_edge_cases_decode_the_same(tmp_path: Path, data: bytes) -> None:
    fast, stock = _pair(DealflowApplication(f"sqlite:///{tmp_path}/x.db"))
    assert _same(fast.decode(data), stock.decode(data))


@pytest.mark.parametrize(("data", "error"), [
    (b'{"_type_": "nope", "_data_": 1}', TranscodingNotRegisteredError),
    (b'{"a": ', ValueError),
    (b"\xff", ValueError),
])
def test_errors_are_the_stock_errors(tmp_path: Path, data: bytes,
                                     error: type[Exception]) -> None:
    fast, stock = _pair(DealflowApplication(f"sqlite:///{tmp_path}/x.db"))
    with pytest.raises(error) as stock_error:
        stock.decode(data)
    with pytest.raises(error) as fast_error:
        fast.decode(data)
    assert str(fast_error.value) == str(stock_error.value)


_ENCODED_STATES: list[dict[str, Any]] = [
    {"timestamp": datetime(2026, 1, 2, 3, 4, 5, 678901,
                                                  tzinfo=UTC),
     "amount": Decimal("1234.50"), "actor": None,
     "extra": {"data": {"n": 1, "when": date(2026, 3, 1)}}},
    {"occurred_at": datetime(2026, 1, 2, 3, 4, 5),
     "values": [Decimal("-0"), Decimal("1E+3"),
                Decimal("0.000001"), Decimal("NaN")],
     "nested": [{"at": datetime(1999, 12, 31, 23, 59, 59, 1,
                                                      tzinfo=timezone(
                                                          timedelta(
                                                              hours=-5, minutes=-30)))}]},
]


@pytest.mark.parametrize("state", _ENCODED_STATES)
def test_encoding_datetimes_and_decimals_directly_gives_the_stock_bytes(
    tmp_path: Path, state: dict[str, Any], monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = DealflowApplication(f"sqlite:///{tmp_path / 'e.db'}")
    try:
        fast, stock = _pair(app)
        expected = stock.encode(state)
        # Datetimes and decimals no longer go through the registered transcodings' lookup
        # (dates still do): the bytes are the stock transcoder's all the same.
        calls: list[type] = []
        stock_encode_obj = fast._encode_obj

        def counting(o: Any) -> dict[str, Any]:
            calls.append(type(o))
            return stock_encode_obj(o)

        monkeypatch.setattr(fast, "_encode_obj", counting)
        assert fast.encode(state) == expected
        assert set(calls) <= {date}
    finally:
        app.close()


def test_a_replaced_datetime_transcoding_is_honoured(tmp_path: Path) -> None:
    class Seconds(DatetimeAsISO):
        def encode(self, obj: datetime) -> str:
            return obj.isoformat(timespec="seconds")

    fast = FastJSONTranscoder()
    app = DealflowApplication(f"sqlite:///{tmp_path / 'r.db'}")
    try:
        app.register_transcodings(fast)
    finally:
        app.close()
    fast.register(Seconds())
    when = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    assert fast.encode({"t": when}) == (
        b'{"t":{"_type_":"datetime_iso","_data_":"2026-01-02T03:04:05+00:00"}}')


_OFFSETS = st.timedeltas(min_value=-timedelta(hours=23, minutes=59, seconds=59),
                         max_value=timedelta(hours=23, minutes=59, seconds=59))
_ZONES = (st.none() | st.builds(timezone, _OFFSETS)
          | st.builds(timezone, st.integers(-1439, 1439).map(lambda m: timedelta(minutes=m)))
          | st.just(UTC) | st.timezones())


@given(st.datetimes(timezones=_ZONES))
def test_a_datetime_is_written_as_isoformat_writes_it(when: datetime) -> None:
    assert _isoformat(when) == when.isoformat()
    assert FastJSONTranscoder._encode_direct(_stock_fast(), when) == {
        "_type_": "datetime_iso", "_data_": when.isoformat()}


def _stock_fast() -> FastJSONTranscoder:
    fast = FastJSONTranscoder()
    fast.register(DatetimeAsISO())
    return fast
