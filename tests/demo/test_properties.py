"""For any seed and size: good lines are accepted, re-sends are duplicates, bad lines refused."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.demo import GeneratedCounts, generate_lines
from tests.demo.reference import ContractModel


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(min_value=0, max_value=2**32), deals=st.integers(0, 120))
def test_every_label_matches_the_models_verdict(seed: int, deals: int) -> None:
    model = ContractModel()
    counts = GeneratedCounts()
    for line in generate_lines(seed, deals=deals, counts=counts):
        verdict = model.judge(line.raw)
        expected = {"good": None, "duplicate": "duplicate"}.get(line.category, line.bad_class)
        assert verdict == expected, line
    assert counts.deals_started == deals == len(model.deals)
