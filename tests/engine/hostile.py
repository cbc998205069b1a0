"""Hostile inputs and the check every one must pass, shared by the suite's short property
test (tests/engine/ingest/test_hostile_input.py) and the long fuzz run
(bench/fuzz_contract.py).

An input is arbitrary bytes, arbitrary JSON, or a valid contract fact with fields
replaced, dropped or added with arbitrary JSON (so that every fact type's validation is
reached, not only the JSON decoder). :func:`check_batch` ingests a batch and asserts the
contract's promise: each input accepted, a duplicate, or rejected with a reason and
stored; nothing else, and never an exception.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from hypothesis import strategies as st

from engine.api.facts import split_batch
from engine.bootstrap import Engine
from engine.contract.data import DATA_MODELS
from engine.contract.envelope import parse_fact
from engine.errors import InvalidFactError
from engine.ingest.batch import RawInput
from tests.engine.facts import STANDARD_PATH, fact, opened

__all__ = ["BatchChecker", "batches", "check_parse", "hostile_inputs"]

_SUBJECTS = st.sampled_from(["F-1", "F-2", "F-3", "rep-01", "rep-02"])
_TEXT = st.text(max_size=40) | st.sampled_from(
    ["", " ", "\x00", "\ud800", "2026-01-05T10:00:00+08:00", "2026-13-45T99:00:00Z",
     "1e400", "-0", "NaN", "standard", "channel", "CNY", "won", "lost", "rep-01"])
_NUMBERS = (st.integers() | st.integers(min_value=-2**80, max_value=2**80)
            | st.floats(allow_nan=True, allow_infinity=True)
            | st.decimals(allow_nan=False, allow_infinity=False).map(str))
json_values: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | _NUMBERS | _TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_TEXT, inner, max_size=4),
    max_leaves=12)

_FIELDS = ["id", "type", "source", "time", "subject", "actor", "data"]
_DATA_FIELDS = ["workflow", "account", "owner", "amount", "currency", "to", "kind",
                "purpose", "reason", "splits", "stage", "partner", "segment", "territory",
                "category", "expected_close", "period", "team", "capacity", "active",
                "manager", "territories", "segments", "contact_name", "score"]


@st.composite
def valid_facts(draw: st.DrawFn) -> dict[str, Any]:
    """A valid fact (some will be accepted, repeated or refused by a rule)."""
    subject = draw(_SUBJECTS)
    kind = draw(st.integers(-len(STANDARD_PATH), len(STANDARD_PATH) - 1))
    if kind < 0:  # half the valid facts open a deal, so that the others may apply
        obj = opened(subject)
    else:
        type_, data = STANDARD_PATH[kind]
        obj = fact(type_, subject, dict(data))
    # Ids drawn, not counted: the same draw must give the same input (and some repeat).
    obj["id"] = draw(st.sampled_from(["same-1", "same-2"])
                     | st.integers(0, 10**9).map(lambda i: f"fz-{i}"))
    return obj


@st.composite
def mutated_facts(draw: st.DrawFn) -> dict[str, Any]:
    """A valid fact with envelope or data fields replaced, dropped or added."""
    obj = draw(valid_facts())
    obj["type"] = draw(st.sampled_from(sorted(DATA_MODELS)) | st.just(obj["type"]))
    for _ in range(draw(st.integers(1, 4))):
        where = draw(st.sampled_from(["envelope", "data"]))
        if where == "data" and isinstance(obj.get("data"), dict):
            target, names = obj["data"], _DATA_FIELDS
        else:
            target, names = obj, _FIELDS
        name = draw(st.sampled_from(names) | _TEXT)
        if draw(st.booleans()) and name in target:
            del target[name]
        else:
            target[name] = draw(json_values)
    return obj


def _encode(obj: Any, ascii_only: bool) -> bytes:
    return json.dumps(obj, ensure_ascii=ascii_only, default=str).encode(
        "utf-8", errors="surrogatepass")


#: JSON number tokens as a sender may write them (json.dumps cannot: exponents, 40 digits).
_NUMBER_TOKENS = st.from_regex(r"-?[0-9]{1,40}(\.[0-9]{1,40})?([eE][+-]?[0-9]{1,4})?",
                               fullmatch=True)
_PLACEHOLDER = "@@number@@"


@st.composite
def number_facts(draw: st.DrawFn) -> bytes:
    """A valid fact whose amount (or another field) is a raw JSON number token."""
    obj = draw(valid_facts())
    target = obj["data"] if draw(st.booleans()) else obj
    target[draw(st.sampled_from(["amount", "share", "capacity", "id", "time"]))] = _PLACEHOLDER
    if draw(st.booleans()):
        obj["data"]["splits"] = [{"rep": "rep-01", "share": _PLACEHOLDER}]
    text = json.dumps(obj)
    return text.replace(f'"{_PLACEHOLDER}"', draw(_NUMBER_TOKENS)).encode()


@st.composite
def hostile_inputs(draw: st.DrawFn) -> bytes:
    """One input's bytes: arbitrary bytes, arbitrary JSON, a (mutated) fact, or a fact with
    raw number tokens; possibly with bytes flipped or cut."""
    choice = draw(st.integers(0, 4))
    if choice == 0:
        return draw(st.binary(max_size=200))
    if choice == 4:
        return draw(number_facts())
    obj = (draw(json_values) if choice == 1 else draw(mutated_facts()) if choice == 2
           else draw(valid_facts()))
    data = _encode(obj, draw(st.booleans()))
    if draw(st.integers(0, 4)) == 0 and data:
        at = draw(st.integers(0, len(data) - 1))
        cut = draw(st.booleans())
        data = data[:at] if cut else data[:at] + bytes([draw(st.integers(0, 255))]) + data[at + 1:]
    return data


#: Batches of one to six hostile inputs.
batches = st.lists(hostile_inputs(), min_size=1, max_size=6)


def check_parse(raw: bytes, content_type: str = "application/json") -> None:
    """The parser answers every input with a fact or ``InvalidFactError`` (nothing else),
    and splitting an HTTP batch body never raises."""
    try:
        parse_fact(raw)
    except InvalidFactError as exc:
        assert exc.reason.startswith("invalid"), exc.reason
        assert exc.message
    items = split_batch(raw, content_type)
    assert items is None or all(isinstance(item, bytes) for item in items)


class BatchChecker:
    """Ingests batches into ``engine`` (its only writer) and checks each one: every input
    accepted, a duplicate, or rejected with a reason and stored (its bytes kept up to the
    limit), exactly the batch's rejections and no other row."""

    def __init__(self, engine: Engine) -> None:
        """Start after the rejections already stored."""
        self.engine = engine
        stored = engine.app.store.select_rejections(limit=1_000_000)
        self.last_seq = stored[-1].seq if stored else 0
        self.batches = 0

    def check(self, inputs: Sequence[bytes]) -> dict[str, int]:
        """Ingest ``inputs`` as one batch, check it; the counts by status."""
        self.batches += 1
        raw_inputs = [RawInput(raw, f"fuzz{self.batches}:{i}") for i, raw in enumerate(inputs)]
        result = self.engine.ingestor.ingest(raw_inputs)
        assert len(result.outcomes) == len(inputs)
        counts: dict[str, int] = {}
        rejected = {}
        for item, outcome in zip(raw_inputs, result.outcomes, strict=True):
            assert outcome.status in ("accepted", "duplicate", "rejected"), outcome
            assert outcome.origin == item.origin
            counts[outcome.status] = counts.get(outcome.status, 0) + 1
            if outcome.status == "rejected":
                assert outcome.reason and outcome.message, outcome
                rejected[item.origin] = (item.raw, outcome.reason)
        rows = self.engine.app.store.select_rejections(after=self.last_seq,
                                                       limit=len(inputs) + 1)
        if rows:
            seq = rows[-1].seq
            assert seq is not None
            self.last_seq = seq
        kept = self.engine.ingestor.limits.kept
        assert {row.origin: (row.raw, row.reason) for row in rows} == {
            origin: (kept(raw), reason) for origin, (raw, reason) in rejected.items()}
        assert len(rows) == len(rejected)
        return counts
