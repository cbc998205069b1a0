"""The definitions a store runs on: workflows and commission plans (routing in 1.1).

Shipped definitions are always there; ``settings.definitions`` names a folder of the
user's own, loaded on top (a new version of a shipped one, or new names)::

    definitions/
      workflows/*.yaml     process definitions   (see docs/views.md, workflows/)
      plans/*.yaml         commission plans      (see docs/commissions.md)
      routing/*.yaml       routing rules         (version 1.1; see docs/routing.md)

A flat folder of YAML files (the layout before subfolders existed) loads as workflows.
Every file is validated when loaded; an error names the file and the item.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from engine.errors import ConfigurationError
from engine.routing import RoutingRegistry
from workflows import WorkflowRegistry

if TYPE_CHECKING:
    from projections.commissions import PlanRegistry

__all__ = ["Definitions", "load_definitions"]

_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class Definitions:
    """The registries every part of the engine reads its definitions from.

    The commission plans are read by the commission view only: they load on first use
    (with the view's modules and SQLAlchemy), unless the folder has plans of its own, which
    :func:`load_definitions` validates at once like every other file."""

    workflows: WorkflowRegistry
    routing: RoutingRegistry
    folder: Path | None = None

    @cached_property
    def plans(self) -> PlanRegistry:
        """The commission plans: shipped, plus those in the folder's ``plans/``."""
        from projections.commissions import PlanRegistry

        plans = PlanRegistry.shipped()
        if self.folder is not None and (self.folder / "plans").is_dir():
            plans.load_dir(self.folder / "plans")  # CommissionPlanError is a ConfigurationError
        return plans


def load_definitions(folder: Path | None) -> Definitions:
    """The shipped definitions plus those in ``folder`` (``None``: shipped only)."""
    workflows = WorkflowRegistry.shipped()
    routing = RoutingRegistry.shipped()
    if folder is None:
        return Definitions(workflows, routing)
    folder = Path(folder)
    if not folder.is_dir():
        raise ConfigurationError(f"definitions folder {folder}: not a directory")
    if any(p.is_file() and p.suffix in _SUFFIXES for p in folder.iterdir()):
        workflows.load_dir(folder)  # the flat layout: every file is a workflow
    if (folder / "workflows").is_dir():
        workflows.load_dir(folder / "workflows")
    if (folder / "routing").is_dir():
        routing.load_dir(folder / "routing")  # RoutingDefinitionError names file and item
    definitions = Definitions(workflows, routing, folder)
    if (folder / "plans").is_dir():
        _ = definitions.plans  # the user's plans validated now, not at the view's first use
    return definitions
