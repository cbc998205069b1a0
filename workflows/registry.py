"""Compiled workflows by (name, version): the shipped ones and any a user defines."""

from __future__ import annotations

from collections.abc import Iterator
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path

from engine.errors import WorkflowDefinitionError
from workflows.compiled import CompiledWorkflow
from workflows.escalation import EscalationStep
from workflows.loader import read_definition
from workflows.model import WorkflowDefinition

__all__ = ["WorkflowRegistry"]

_SUFFIXES = (".yaml", ".yml")


class WorkflowRegistry:
    """Holds each workflow version compiled once; versions never change once added."""

    def __init__(self) -> None:
        """An empty registry; see :meth:`shipped` for one with the contract's workflows."""
        self._compiled: dict[tuple[str, int], CompiledWorkflow] = {}
        self._sources: dict[tuple[str, int], str] = {}

    @classmethod
    def shipped(cls) -> WorkflowRegistry:
        """A registry with the definitions shipped in ``workflows/definitions``."""
        registry = cls()
        registry._load_traversable(files("workflows").joinpath("definitions"))
        return registry

    def add(self, definition: WorkflowDefinition, source: str = "<definition>") -> CompiledWorkflow:
        """Compile and register ``definition``; re-adding an identical one is a no-op.

        A different definition under a (name, version) already held is refused: deals replay
        against their version, so a changed workflow needs a new version number.
        """
        key = (definition.name, definition.version)
        held = self._compiled.get(key)
        if held is not None:
            if held.definition == definition:
                return held
            raise WorkflowDefinitionError(
                f"{source}: workflow {definition.name!r} version {definition.version} is "
                f"already defined differently by {self._sources[key]}; give the changed "
                "definition a new version"
            )
        compiled = CompiledWorkflow(definition)
        self._compiled[key] = compiled
        self._sources[key] = source
        return compiled

    def load_file(self, path: Path | str) -> CompiledWorkflow:
        """Load, validate, compile and register one YAML definition file."""
        path = Path(path)
        return self.add(read_definition(path), source=str(path))

    def load_dir(self, path: Path | str) -> tuple[CompiledWorkflow, ...]:
        """Load every ``*.yaml``/``*.yml`` file of a directory (not recursive), by file name."""
        path = Path(path)
        if not path.is_dir():
            raise WorkflowDefinitionError(f"{path}: not a directory of workflow definitions")
        return self._load_traversable(path)

    def _load_traversable(self, folder: Traversable) -> tuple[CompiledWorkflow, ...]:
        entries = sorted(
            (e for e in folder.iterdir() if e.is_file() and e.name.endswith(_SUFFIXES)),
            key=lambda e: e.name,
        )
        return tuple(self.add(read_definition(e), source=str(e)) for e in entries)

    def get(self, name: str, version: int | None = None) -> CompiledWorkflow:
        """The compiled workflow ``name`` at ``version`` (``None``: the latest version)."""
        if version is not None:
            found = self._compiled.get((name, version))
            if found is not None:  # the hot path: every fact looks its deal's version up
                return found
        versions = self.versions(name)
        if not versions:
            known = ", ".join(self.names()) or "none"
            raise WorkflowDefinitionError(f"unknown workflow {name!r} (known: {known})")
        if version is None:
            version = versions[-1]
        try:
            return self._compiled[(name, version)]
        except KeyError:
            raise WorkflowDefinitionError(
                f"workflow {name!r} has no version {version} "
                f"(known: {', '.join(map(str, versions))})"
            ) from None

    def escalation_steps(self, name: str, rule: str) -> tuple[EscalationStep, ...]:
        """The escalation steps of SLA rule ``rule`` in the LATEST version of workflow
        ``name`` (CONTRACT 1.1, rule 10: deals of earlier versions get them too); none when
        that version has no such rule or the workflow is unknown."""
        versions = self.versions(name)
        if not versions:
            return ()
        for found in self._compiled[(name, versions[-1])].sla_rules:
            if found.name == rule:
                return found.escalation
        return ()

    def forecast_category(self, name: str, stage: str) -> str | None:
        """The forecast category of ``stage`` in the LATEST version of workflow ``name``
        (CONTRACT 1.1, rule 10: deals of earlier versions get it too); None when that version
        has no such stage or the workflow is unknown (the caller falls back on the deal's
        own version)."""
        versions = self.versions(name)
        if not versions:
            return None
        latest = self._compiled[(name, versions[-1])]
        return latest.forecast_category(stage) if stage in latest.stages else None

    def names(self) -> tuple[str, ...]:
        """Workflow names, sorted."""
        return tuple(sorted({name for name, _ in self._compiled}))

    def versions(self, name: str) -> tuple[int, ...]:
        """The versions held for ``name``, ascending (empty if none)."""
        return tuple(sorted(v for n, v in self._compiled if n == name))

    def __iter__(self) -> Iterator[CompiledWorkflow]:
        """Every compiled workflow, by name then version."""
        return iter([self._compiled[key] for key in sorted(self._compiled)])

    def __len__(self) -> int:
        """How many (name, version) pairs are held."""
        return len(self._compiled)
