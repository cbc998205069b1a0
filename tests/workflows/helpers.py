"""Shared helpers for the workflow tests: the shipped definitions as plain, mutable data."""

from __future__ import annotations

import copy
from importlib.resources import files
from typing import Any

import yaml

_CACHE: dict[str, dict[str, Any]] = {}


def shipped_data(name: str) -> dict[str, Any]:
    """A fresh deep copy of a shipped definition file's YAML data, safe to mutate."""
    if name not in _CACHE:
        text = files("workflows").joinpath("definitions", f"{name}.yaml").read_text("utf-8")
        _CACHE[name] = yaml.safe_load(text)
    return copy.deepcopy(_CACHE[name])


def stage_of(data: dict[str, Any], name: str) -> dict[str, Any]:
    """The stage mapping called ``name`` inside definition data."""
    stage: dict[str, Any] = next(s for s in data["stages"] if s["name"] == name)
    return stage


def rule_of(data: dict[str, Any], name: str) -> dict[str, Any]:
    """The SLA rule mapping called ``name`` inside definition data."""
    rule: dict[str, Any] = next(r for r in data["sla"] if r["name"] == name)
    return rule
