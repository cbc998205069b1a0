"""The envelope's fast path accepts exactly what the field-by-field checks accept.

``_envelope_fast`` either gives up (None, and ``_envelope`` decides and names the field) or
gives the very values ``_envelope`` gives; the same holds for ``parse_timestamp``'s fast
paths against the text it rebuilds otherwise and against its full path.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.contract.envelope import _envelope, _envelope_fast
from engine.contract.values import parse_timestamp
from engine.errors import InvalidFactError

BASE: dict[str, Any] = {"id": "f-1", "type": "deal.stage_changed", "source": "crm",
                        "time": "2026-01-01T08:00:14+08:00", "subject": "D-1", "actor": "r",
                        "data": {"to": "contact"}}

#: One field changed (None: removed) per case: valid and invalid alike.
CHANGES: list[tuple[str, Any]] = [
    ("actor", None), ("actor", ""), ("actor", " x"), ("actor", "\u2003"), ("actor", 5),
    ("id", "x" * 128), ("id", "x" * 129), ("id", " "), ("id", "\tid"), ("id", 1), ("id", None),
    ("type", "nope"), ("type", ["deal.lost"]), ("type", None), ("type", " deal.lost"),
    ("source", ""), ("source", "\x85s"), ("source", None), ("subject", "s "),
    ("subject", {}), ("time", "2026-01-01T08:00:14Z"), ("time", "2026-01-01 08:00:14+08:00"),
    ("time", "2026-01-01T08:00:14.5+08:00"), ("time", "2026-02-30T08:00:14+08:00"),
    ("time", "2026-01-01T08:00:14"), ("time", "2026-01-01T24:00:00+08:00"),
    ("time", "2026-01-01T08:00:14+24:00"), ("time", "٢٠٢٦-01-01T08:00:14+08:00"),
    ("time", 0), ("time", None), ("data", None), ("data", []),
]


def _outcome(obj: dict[str, Any]) -> object:
    try:
        return _envelope(obj)
    except InvalidFactError as exc:
        return ("refused", str(exc))


@pytest.mark.parametrize(("name", "value"), CHANGES)
def test_fast_path_gives_up_or_agrees(name: str, value: Any) -> None:
    obj = dict(BASE)
    if value is None:
        obj.pop(name)
    else:
        obj[name] = value
    fast = _envelope_fast(obj)
    assert fast is None or fast == _outcome(obj)


def test_fast_path_takes_the_common_fact() -> None:
    assert _envelope_fast(BASE) == _envelope(BASE)


@pytest.mark.parametrize("text", [
    "2026-01-01T08:00:14+08:00", "2026-12-31T23:59:59-05:30", "2024-02-29T00:00:00+00:00",
    "2026-01-01T08:00:14Z", "2026-01-01t08:00:14+08:00", "2026-01-01T08:00:14.25+08:00",
])
def test_timestamp_fast_path_same_value(text: str) -> None:
    day, rest = text[:10], text[11:]
    offset = "+00:00" if rest.endswith(("Z", "z")) else rest[-6:]
    clock = rest[:8]
    fraction = rest[8:-1 if rest.endswith(("Z", "z")) else -6] or ".0"
    rebuilt = datetime.fromisoformat(f"{day}T{clock}.{fraction[1:7].ljust(6, '0')}{offset}")
    parsed = parse_timestamp(text)
    assert parsed == rebuilt
    assert parsed.utcoffset() == rebuilt.utcoffset()


class _Text(str):
    """A str subclass: ``parse_timestamp`` skips its common-shape path for it (the full
    path decides), so the two paths can be compared on the same text."""


_SHAPE = "dddd-dd-ddTdd:dd:dd+dd:dd"
# Mostly what each place holds in a valid time (so that many are valid, some with a day,
# hour or offset out of range), else a character that changes the shape.
_CHARS = {"d": st.sampled_from("0123456789" * 5 + "\u0663\uff11 x"),
          "-": st.sampled_from("-" * 12 + ":+/"), ":": st.sampled_from(":" * 12 + "-."),
          "T": st.sampled_from("T" * 12 + "t _"), "+": st.sampled_from("+-" * 6 + "Zz.")}


@given(st.tuples(*(_CHARS[c] if c in _CHARS else st.just(c) for c in _SHAPE)))
def test_the_common_shape_of_a_time_is_read_as_the_full_path_reads_it(
        chars: tuple[str, ...]) -> None:
    text = "".join(chars)
    try:
        expected: object = parse_timestamp(_Text(text))
    except ValueError as exc:
        expected = ("error", str(exc))
    try:
        found: object = parse_timestamp(text)
    except ValueError as exc:
        found = ("error", str(exc))
    assert found == expected
    if isinstance(found, datetime) and isinstance(expected, datetime):
        assert found.utcoffset() == expected.utcoffset()
