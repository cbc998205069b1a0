"""A realistic corpus with every bad-input class of the contract: each bad input is
rejected with a reason naming its field or rule and stored with its original bytes, and
every good fact around it is accepted; on SQLite and PostgreSQL."""

from __future__ import annotations

from collections import Counter

from engine.bootstrap import Engine
from engine.demo import BAD_CLASSES, generate_lines
from engine.ingest.batch import RawInput

# Which reason each generated bad class must get: a field (invalid:...) or a rule name.
RULE_OF = {
    "stage_jump": {"stage_jump"},
    "missing_requirement": {"requirement_missing"},
    "unknown_deal": {"deal_not_found"},
    "opened_twice": {"deal_already_opened"},
    "closed_deal": {"closed_deal"},
    "conflict": {"conflict"},
}


def test_every_bad_class_is_rejected_stored_and_good_facts_go_on(engine: Engine) -> None:
    lines = list(generate_lines(5, deals=400))
    classes = {line.bad_class for line in lines if line.category == "bad"}
    assert classes == set(BAD_CLASSES)
    results = []
    for start in range(0, len(lines), 300):
        chunk = lines[start : start + 300]
        inputs = [RawInput(line.raw, f"corpus:{start + i}") for i, line in enumerate(chunk)]
        results.extend(engine.ingestor.ingest(inputs).outcomes)
    expected = {"good": "accepted", "duplicate": "duplicate", "bad": "rejected"}
    assert [o.status for o in results] == [expected[line.category] for line in lines]

    stored = {row.origin: row for row in engine.app.store.select_rejections(limit=100_000)}
    by_class: Counter[str] = Counter()
    for i, (line, outcome) in enumerate(zip(lines, results, strict=True)):
        if line.category != "bad":
            continue
        assert line.bad_class is not None
        by_class[line.bad_class] += 1
        row = stored[f"corpus:{i}"]
        assert row.raw == line.raw
        assert row.reason == outcome.reason
        if line.bad_class in RULE_OF:
            assert outcome.reason in RULE_OF[line.bad_class], (line.bad_class, outcome)
        else:
            assert outcome.reason is not None and outcome.reason.startswith("invalid:")
            assert outcome.field is not None and outcome.field in (outcome.message or "")
    assert set(by_class) == set(BAD_CLASSES)
    assert len(stored) == sum(by_class.values())
