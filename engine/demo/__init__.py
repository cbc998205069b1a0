"""Deterministic, realistic quarters of sales facts in the public contract's format.

``generate`` yields JSON lines (bytes); ``generate_lines`` labels each as good, duplicate or
bad (with its bad-input class); ``write_jsonl`` writes a file and returns the counts.
"""

from __future__ import annotations

from engine.demo.delivery import NoiseRates
from engine.demo.generator import FIRST_QUARTER, generate, generate_lines, write_jsonl
from engine.demo.lines import Category, DemoLine, GeneratedCounts
from engine.demo.noise import BAD_CLASSES, FIELD_CLASSES, WORKFLOW_CLASSES

__all__ = [
    "BAD_CLASSES",
    "FIELD_CLASSES",
    "FIRST_QUARTER",
    "WORKFLOW_CLASSES",
    "Category",
    "DemoLine",
    "GeneratedCounts",
    "NoiseRates",
    "generate",
    "generate_lines",
    "write_jsonl",
]
