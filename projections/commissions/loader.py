"""Reading plan files: YAML text in, a validated :class:`PlanVersion` out, and every failure
as one :class:`CommissionPlanError` whose message names the source and the field."""

from __future__ import annotations

from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from projections.commissions.plans import CommissionPlanError, PlanVersion
from workflows.documents import load_yaml, read_document

__all__ = ["plan_from_mapping", "plan_from_yaml", "read_plan"]

def read_plan(path: Path | Traversable) -> PlanVersion:
    """Load and validate one YAML plan file."""
    return plan_from_yaml(read_document(path, CommissionPlanError, "commission plan"),
                          source=str(path))


def plan_from_yaml(text: str, source: str = "<yaml>") -> PlanVersion:
    """Validate a plan version given as YAML text; ``source`` names it in error messages."""
    # The safe loader keeps timestamps as datetimes and numbers as int/float; amounts and
    # rates are written as strings in the shipped files so no float is involved.
    return plan_from_mapping(load_yaml(text, source, CommissionPlanError), source)


def plan_from_mapping(data: Any, source: str = "<data>") -> PlanVersion:
    """Validate a plan version given as plain data (what YAML or JSON parsing yields)."""
    if not isinstance(data, dict):
        raise CommissionPlanError(
            f"{source}: a commission plan is a mapping with id, version, tiers, ..., "
            f"not {type(data).__name__}"
        )
    _refuse_floats(data, (), source)
    try:
        return PlanVersion.model_validate(data)
    except ValidationError as exc:
        lines = [_line(error["loc"], error["msg"]) for error in exc.errors()]
        label = f"{data.get('id', '?')} version {data.get('version', '?')}"
        raise CommissionPlanError(
            f"{source}: invalid commission plan ({label}):\n  " + "\n  ".join(lines)
        ) from None


def _refuse_floats(data: Any, loc: tuple[int | str, ...], source: str) -> None:
    """Rates and amounts must be exact: a YAML float (``0.05`` unquoted) is refused."""
    if isinstance(data, float):
        where = ".".join(map(str, loc))
        raise CommissionPlanError(
            f"{source}: invalid commission plan:\n  {where}: write decimals as strings "
            f"(\"{data}\"), never as floats"
        )
    if isinstance(data, dict):
        for key, value in data.items():
            _refuse_floats(value, (*loc, key), source)
    elif isinstance(data, list):
        for index, value in enumerate(data):
            _refuse_floats(value, (*loc, index), source)


def _line(loc: tuple[int | str, ...], msg: str) -> str:
    msg = msg.removeprefix("Value error, ")
    where = ".".join(map(str, loc))
    return f"{where}: {msg}" if where else msg
