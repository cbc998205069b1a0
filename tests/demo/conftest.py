"""One generated default-size quarter, shared by the demo tests (generating it takes seconds)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest

from engine.demo import DemoLine, GeneratedCounts, generate_lines
from tests.demo.reference import ContractModel

DEALS = 5000


@dataclass(frozen=True)
class Quarter:
    """``generate_lines(7, deals=DEALS)``: the lines, the counts it filled, the good facts
    parsed, and the reference model's verdict on each line (judged in arrival order)."""

    lines: list[DemoLine]
    counts: GeneratedCounts
    good: list[dict[str, Any]]
    verdicts: list[str | None]
    model: ContractModel


@pytest.fixture(scope="session")
def quarter() -> Quarter:
    counts = GeneratedCounts()
    lines = list(generate_lines(7, deals=DEALS, counts=counts))
    good = [json.loads(line.raw) for line in lines if line.category == "good"]
    model = ContractModel()
    verdicts = [model.judge(line.raw) for line in lines]
    return Quarter(lines, counts, good, verdicts, model)
