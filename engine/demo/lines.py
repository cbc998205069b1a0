"""What the generator hands out: labelled lines, and the running count of each category."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

__all__ = ["Category", "DemoLine", "GeneratedCounts"]

Category = Literal["good", "duplicate", "bad"]


@dataclass(frozen=True, slots=True)
class DemoLine:
    """One delivered line and what it is meant to be.

    ``good``: a new fact a correct ingest accepts (``late`` when it arrives after facts
    timed later than it); ``duplicate``: an exact re-send of a good line; ``bad``: refused,
    ``bad_class`` naming which of :data:`engine.demo.noise.BAD_CLASSES` it is.
    """

    raw: bytes
    category: Category
    bad_class: str | None = None
    late: bool = False


@dataclass(slots=True)
class GeneratedCounts:
    """How many lines of each category were delivered so far (final once exhausted).

    ``late`` counts the good lines that were delivered after later-timed ones; they are
    included in ``good``. ``deals_started`` counts deals the generator has begun to script,
    which stays far below ``deals`` early on because generation is lazy.
    """

    deals_started: int = 0
    good: int = 0
    late: int = 0
    duplicates: int = 0
    bad: int = 0
    bad_by_class: dict[str, int] = field(default_factory=dict)

    @property
    def lines(self) -> int:
        """All lines delivered: good + duplicates + bad."""
        return self.good + self.duplicates + self.bad

    def record(self, line: DemoLine) -> None:
        """Count ``line`` in its category."""
        if line.category == "good":
            self.good += 1
            self.late += line.late
        elif line.category == "duplicate":
            self.duplicates += 1
        else:
            self.bad += 1
            name = line.bad_class or "unknown"
            self.bad_by_class[name] = self.bad_by_class.get(name, 0) + 1
