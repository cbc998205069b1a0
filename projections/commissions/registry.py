"""Commission plans by id and version: the shipped ones and any a user defines.

Versions of one plan take effect at increasing ``effective_from`` times; the plan in effect
at an instant is the latest version whose ``effective_from`` is at or before it (a version
without ``effective_from`` is in effect from the beginning).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterator
from datetime import datetime
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path

from projections.commissions.loader import read_plan
from projections.commissions.plans import CommissionPlanError, PlanVersion

__all__ = ["DEFAULT_PLAN", "PlanRegistry"]

#: The plan of a rep with no ``rep.plan_assigned`` in effect.
DEFAULT_PLAN = "standard-2026"
_SUFFIXES = (".yaml", ".yml")


class PlanRegistry:
    """Holds plan versions; a version never changes once added (see :meth:`add`)."""

    def __init__(self) -> None:
        """An empty registry; see :meth:`shipped` for one with the contract's plans."""
        self._versions: dict[str, list[PlanVersion]] = {}
        self._sources: dict[tuple[str, int], str] = {}

    @classmethod
    def shipped(cls) -> PlanRegistry:
        """A registry with the plans shipped in ``projections/commissions/definitions``."""
        registry = cls()
        registry._load_traversable(files("projections.commissions").joinpath("definitions"))
        return registry

    def add(self, plan: PlanVersion, source: str = "<definition>") -> PlanVersion:
        """Register ``plan``; re-adding an identical version is a no-op.

        A different definition under an (id, version) already held is refused, and versions
        must take effect in version order: statements are recomputed from facts, so an
        edited version would silently change statements already printed.
        """
        key = (plan.id, plan.version)
        versions = self._versions.setdefault(plan.id, [])
        held = next((v for v in versions if v.version == plan.version), None)
        if held is not None:
            if held == plan:
                return held
            raise CommissionPlanError(
                f"{source}: plan {plan.id!r} version {plan.version} is already defined "
                f"differently by {self._sources[key]}; give the changed plan a new version"
            )
        candidate = sorted([*versions, plan], key=lambda v: v.version)
        _check_effective_order(candidate, source)
        versions[:] = candidate
        self._sources[key] = source
        return plan

    def load_file(self, path: Path | str) -> PlanVersion:
        """Load, validate and register one YAML plan file."""
        path = Path(path)
        return self.add(read_plan(path), source=str(path))

    def load_dir(self, path: Path | str) -> tuple[PlanVersion, ...]:
        """Load every ``*.yaml``/``*.yml`` file of a directory (not recursive), by name."""
        path = Path(path)
        if not path.is_dir():
            raise CommissionPlanError(f"{path}: not a directory of commission plans")
        return self._load_traversable(path)

    def _load_traversable(self, folder: Traversable) -> tuple[PlanVersion, ...]:
        entries = sorted(
            (e for e in folder.iterdir() if e.is_file() and e.name.endswith(_SUFFIXES)),
            key=lambda e: e.name,
        )
        return tuple(self.add(read_plan(e), source=str(e)) for e in entries)

    def __contains__(self, plan_id: object) -> bool:
        """Whether a plan ``plan_id`` is held."""
        return plan_id in self._versions

    def version_at(self, plan_id: str, at: datetime) -> PlanVersion | None:
        """The version of ``plan_id`` in effect at ``at``; ``None`` if the plan is unknown.

        An instant before the first version's ``effective_from`` gets the first version.
        """
        versions = self._versions.get(plan_id)
        if not versions:
            return None
        # Versions after the first all have effective_from (checked in add()).
        starts = [v.effective_from for v in versions[1:] if v.effective_from is not None]
        return versions[bisect_right(starts, at)]

    def get(self, plan_id: str, version: int | None = None) -> PlanVersion:
        """Version ``version`` of ``plan_id`` (``None``: the latest)."""
        versions = self._versions.get(plan_id)
        if not versions:
            known = ", ".join(sorted(self._versions)) or "none"
            raise CommissionPlanError(f"unknown commission plan {plan_id!r} (known: {known})")
        if version is None:
            return versions[-1]
        for held in versions:
            if held.version == version:
                return held
        raise CommissionPlanError(f"plan {plan_id!r} has no version {version}")

    def __iter__(self) -> Iterator[PlanVersion]:
        """Every version, by id then version."""
        return iter([v for plan_id in sorted(self._versions) for v in self._versions[plan_id]])

    def __len__(self) -> int:
        """How many (id, version) pairs are held."""
        return sum(len(v) for v in self._versions.values())


def _check_effective_order(versions: list[PlanVersion], source: str) -> None:
    """Every version but the first has ``effective_from``; they increase with the version."""
    previous: PlanVersion | None = None
    for index, version in enumerate(versions):
        starts = version.effective_from
        if starts is None:
            if index > 0:
                raise CommissionPlanError(
                    f"{source}: plan {version.id!r} version {version.version}: effective_from "
                    "is required on every version but the first"
                )
            continue
        if previous is not None and previous.effective_from is not None \
                and starts <= previous.effective_from:
            raise CommissionPlanError(
                f"{source}: plan {version.id!r} version {version.version}: effective_from "
                f"{starts.isoformat()} must be later than version {previous.version}'s "
                f"{previous.effective_from.isoformat()}"
            )
        previous = version
