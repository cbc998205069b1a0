"""Factory fixtures: make several things in a test, close every one of them at its end."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")


def closing_factory(make: Callable[P, T], close: Callable[[T], object]) -> Iterator[Callable[P, T]]:
    """Yield ``make`` for the test to call; afterwards ``close`` what it made, in order.

    For a fixture body: ``yield from closing_factory(make, close)``."""
    made: list[T] = []

    def tracked(*args: P.args, **kwargs: P.kwargs) -> T:
        item = make(*args, **kwargs)
        made.append(item)
        return item

    yield tracked
    for item in made:
        close(item)
