"""Reading definition files: YAML text in, a validated :class:`WorkflowDefinition` out, and
every failure as one ``WorkflowDefinitionError`` whose message names the file and item."""

from __future__ import annotations

from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from engine.errors import WorkflowDefinitionError
from workflows.documents import load_yaml, read_document
from workflows.model import WorkflowDefinition
from workflows.sla import MATCHER_TAGS

__all__ = ["definition_from_mapping", "definition_from_yaml", "read_definition"]

def read_definition(path: Path | Traversable) -> WorkflowDefinition:
    """Load and validate one YAML definition file."""
    text = read_document(path, WorkflowDefinitionError, "workflow definition")
    return definition_from_yaml(text, source=str(path))


def definition_from_yaml(text: str, source: str = "<yaml>") -> WorkflowDefinition:
    """Validate a definition given as YAML text; ``source`` names it in error messages."""
    return definition_from_mapping(load_yaml(text, source, WorkflowDefinitionError), source)


def definition_from_mapping(data: Any, source: str = "<data>") -> WorkflowDefinition:
    """Validate a definition given as plain data (what YAML or JSON parsing yields)."""
    if not isinstance(data, dict):
        raise WorkflowDefinitionError(
            f"{source}: a workflow definition is a mapping with name, version, stages, ..., "
            f"not {type(data).__name__}"
        )
    try:
        return WorkflowDefinition.model_validate(data)
    except ValidationError as exc:
        lines = [_line(data, error["loc"], error["msg"]) for error in exc.errors()]
        label = f"{data.get('name', '?')} version {data.get('version', '?')}"
        raise WorkflowDefinitionError(
            f"{source}: invalid workflow definition ({label}):\n  " + "\n  ".join(lines)
        ) from None


def _line(data: dict[str, Any], loc: tuple[int | str, ...], msg: str) -> str:
    msg = msg.removeprefix("Value error, ").replace("\n", "\n  ")
    where = _where(data, loc)
    return f"{where}: {msg}" if where else msg


def _where(data: dict[str, Any], loc: tuple[int | str, ...]) -> str:
    """Render a pydantic location with names: ``stage 'quote'.probability``."""
    parts: list[str] = []
    rest = list(loc)
    if len(rest) >= 2 and isinstance(rest[1], int) and rest[0] in _ITEM_NAMES:
        section, index = str(rest.pop(0)), int(rest.pop(0))
        parts.append(_ITEM_NAMES[section](_item(data, section, index), index))
    for i, part in enumerate(rest):
        # The union tag after start/end ("fact", "enter_stage") repeats the field name.
        is_tag = i > 0 and rest[i - 1] in ("start", "end")
        if not (is_tag and part in MATCHER_TAGS):
            parts.append(str(part))
    return ".".join(parts)


def _item(data: dict[str, Any], section: str, index: int) -> dict[str, Any]:
    items = data.get(section)
    if isinstance(items, list) and index < len(items):
        item = items[index]
        if isinstance(item, dict):
            return item
    return {}


def _stage_name(item: dict[str, Any], index: int) -> str:
    return f"stage {item['name']!r}" if "name" in item else f"stage #{index + 1}"


def _transition_name(item: dict[str, Any], index: int) -> str:
    source = item.get("source", "?")
    source = ", ".join(map(str, source)) if isinstance(source, list) else source
    return f"transition #{index + 1} ({item.get('trigger', '?')} {source} -> {item.get('dest')})"


def _rule_name(item: dict[str, Any], index: int) -> str:
    return f"SLA rule {item['name']!r}" if "name" in item else f"SLA rule #{index + 1}"


_ITEM_NAMES = {"stages": _stage_name, "transitions": _transition_name, "sla": _rule_name}
