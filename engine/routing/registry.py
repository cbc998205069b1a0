"""Routing definitions by version: the shipped ``default`` and the user's ``routing/*.yaml``.

Every file is validated when loaded; an error names the file and the item
(``rule 'high_value'.strategy: ...``). Versions never change once added: a changed routing
needs a new version, and the latest version routes every deal that arrives after it loads.
"""

from __future__ import annotations

from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from engine.errors import RoutingDefinitionError
from engine.routing.model import ROUTING_NAME, RoutingDefinition
from workflows.documents import load_yaml, read_document

__all__ = ["RoutingRegistry", "routing_from_mapping"]

_SUFFIXES = (".yaml", ".yml")


def routing_from_mapping(data: Any, source: str = "<data>") -> RoutingDefinition:
    """Validate a routing given as plain data; errors name ``source`` and the item."""
    if not isinstance(data, dict):
        raise RoutingDefinitionError(
            f"{source}: a routing definition is a mapping with name, version and rules, "
            f"not {type(data).__name__}")
    try:
        definition = RoutingDefinition.model_validate(data)
    except ValidationError as exc:
        lines = [f"{_where(data, e['loc'])}: {e['msg'].removeprefix('Value error, ')}"
                 for e in exc.errors()]
        label = f"{data.get('name', '?')} version {data.get('version', '?')}"
        raise RoutingDefinitionError(
            f"{source}: invalid routing definition ({label}):\n  " + "\n  ".join(lines)
        ) from None
    if definition.name != ROUTING_NAME:
        raise RoutingDefinitionError(
            f"{source}: routing {definition.name!r}: the engine routes by the routing named "
            f"{ROUTING_NAME!r}; name the file's routing {ROUTING_NAME!r} with a version above "
            "the shipped one to replace it")
    return definition


def _where(data: dict[str, Any], loc: tuple[int | str, ...]) -> str:
    parts = [str(p) for p in loc]
    if len(loc) >= 2 and loc[0] == "rules" and isinstance(loc[1], int):
        rules = data.get("rules")
        rule = rules[loc[1]] if isinstance(rules, list) and loc[1] < len(rules) else None
        name = rule.get("name") if isinstance(rule, dict) else None
        label = f"rule {name!r}" if isinstance(name, str) else f"rule #{loc[1] + 1}"
        parts = [label, *parts[2:]]
    return ".".join(parts) or "(definition)"


def _read(path: Path | Traversable) -> RoutingDefinition:
    text = read_document(path, RoutingDefinitionError, "routing definition")
    return routing_from_mapping(load_yaml(text, str(path), RoutingDefinitionError), str(path))


class RoutingRegistry:
    """Each routing version, held once; :meth:`latest` is the one deals are routed by."""

    def __init__(self) -> None:
        """An empty registry; see :meth:`shipped` for one with the contract's ``default``."""
        self._held: dict[tuple[str, int], RoutingDefinition] = {}
        self._sources: dict[tuple[str, int], str] = {}
        self._latest: RoutingDefinition | None = None

    @classmethod
    def shipped(cls) -> RoutingRegistry:
        """A registry holding the shipped ``default`` routing."""
        registry = cls()
        registry._load(files("engine.routing").joinpath("definitions"))
        return registry

    def add(self, definition: RoutingDefinition, source: str = "<definition>"
            ) -> RoutingDefinition:
        """Register ``definition``; an identical re-add is a no-op, a changed one is refused."""
        key = (definition.name, definition.version)
        held = self._held.get(key)
        if held is not None and held != definition:
            raise RoutingDefinitionError(
                f"{source}: routing {definition.name!r} version {definition.version} is already "
                f"defined differently by {self._sources[key]}; give the changed routing a new "
                "version")
        self._held.setdefault(key, definition)
        self._sources.setdefault(key, source)
        if definition.name == ROUTING_NAME and (
                self._latest is None or definition.version > self._latest.version):
            self._latest = definition
        return self._held[key]

    def load_dir(self, path: Path | str) -> tuple[RoutingDefinition, ...]:
        """Load every ``*.yaml``/``*.yml`` file of ``path`` (not recursive), by file name."""
        folder = Path(path)
        if not folder.is_dir():
            raise RoutingDefinitionError(f"{folder}: not a directory of routing definitions")
        return self._load(folder)

    def _load(self, folder: Path | Traversable) -> tuple[RoutingDefinition, ...]:
        entries = sorted((e for e in folder.iterdir()
                          if e.is_file() and e.name.endswith(_SUFFIXES)), key=lambda e: e.name)
        return tuple(self.add(_read(e), str(e)) for e in entries)

    def latest(self) -> RoutingDefinition:
        """The latest version of the routing deals are routed by."""
        if self._latest is None:
            raise RoutingDefinitionError(f"no routing named {ROUTING_NAME!r} is defined")
        return self._latest

    def versions(self) -> list[RoutingDefinition]:
        """Every version held, oldest first."""
        return [self._held[k] for k in sorted(self._held)]
