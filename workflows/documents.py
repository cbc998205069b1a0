"""Definition documents: one YAML file (or text) read into plain data.

Workflows, commission plans and routing rules are all YAML documents the user may write; each
kind validates the data its own way, but reading it is one thing: every failure is raised as
the kind's own error, with a message that names the file (or source) first.
"""

from __future__ import annotations

from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import yaml

__all__ = ["load_yaml", "read_document"]

# libyaml's safe loader when PyYAML was built with it: the same documents, ~10x faster.
_SafeLoader: type[yaml.SafeLoader] | type[yaml.CSafeLoader] = getattr(
    yaml, "CSafeLoader", yaml.SafeLoader
)


def read_document(path: Path | Traversable, error: type[Exception], what: str) -> str:
    """The UTF-8 text of ``path``; a file that cannot be read raises ``error`` naming ``what``."""
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"{path}: cannot read {what}: {exc}") from exc


def load_yaml(text: str, source: str, error: type[Exception]) -> Any:
    """Plain data from YAML ``text`` (a safe loader: no objects, timestamps as datetimes);
    text that is not YAML raises ``error`` naming ``source``."""
    try:
        return yaml.load(text, Loader=_SafeLoader)
    except yaml.YAMLError as exc:
        raise error(f"{source}: not valid YAML: {exc}") from exc
