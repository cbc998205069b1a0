"""Reports for the service: computed from the live views, cached briefly, read in pages.

Reports come from :data:`projections.registry.REPORTS` (name -> view, builder), or another
such table (the /metrics gauges: :func:`projections.registry.gauge_builders`). A report
"as of now" is served from cache while it is at most ``max_age`` seconds old; older, it is
still served while a background thread computes a fresh one (stale-while-revalidate) if its
view moved or it is older than ``stale_after``, so no reader waits for a recomputation
(only an answer twice ``stale_after`` old is recomputed in the request); each response
says which log position and time it was computed for. A read
that needs a later position than the cached one (read-your-writes) computes. A report for
an explicit ``as_of`` is reused while its view has not moved. Concurrent requests for the
same report compute it once.
"""

from __future__ import annotations

import inspect
import logging
import threading
import time
import types
import typing
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, get_args, get_origin

from engine.serve.rwlock import ReadWriteLock
from projections.registry import REPORTS
from projections.report import ReportParams
from projections.runner import ProjectionRunner

__all__ = ["ComputedReport", "ReportOption", "ReportService", "report_options"]

log = logging.getLogger(__name__)
_SIMPLE = (str, int, bool)
_CACHE_ENTRIES = 64


@dataclass(frozen=True, slots=True)
class ReportOption:
    """A keyword option of a report builder that the API exposes as a query parameter."""

    name: str
    annotation: Any
    default: Any

    @property
    def query(self) -> str:
        """The query parameter's name: the keyword without a trailing ``_`` (``from_``
        is ``from``)."""
        return self.name.removesuffix("_")

    @property
    def moment(self) -> bool:
        """An instant (``datetime``): read from the query as ``as_of`` is."""
        return _moment(self.annotation)


def _simple(annotation: Any) -> bool:
    """str/int/bool, a Literal of those, or an Optional of either."""
    if annotation in _SIMPLE:
        return True
    origin = get_origin(annotation)
    if origin is Literal:
        return all(isinstance(a, _SIMPLE) for a in get_args(annotation))
    if origin in (typing.Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        return len(args) == 1 and _simple(args[0])
    return False


def _moment(annotation: Any) -> bool:
    """``datetime`` or an Optional of it."""
    if annotation is datetime:
        return True
    if get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        return args == [datetime]
    return False


def report_options(builder: Callable[..., Any]) -> list[ReportOption]:
    """The builder's keyword options of simple types (``period``, ``rep``, ...) and
    instants (the waterfall's ``from_`` and ``to``).

    ``limit`` is not one: over HTTP every list is paginated (``cursor``/``limit``)."""
    try:
        hints = typing.get_type_hints(builder)
    except Exception:  # unresolvable annotations: expose nothing rather than guess
        return []
    found = []
    for index, param in enumerate(inspect.signature(builder).parameters.values()):
        if index < 3 or param.kind not in (param.KEYWORD_ONLY, param.POSITIONAL_OR_KEYWORD):
            continue
        if param.name == "limit":
            continue
        annotation = hints.get(param.name, Any)
        if param.default is not param.empty and (_simple(annotation) or _moment(annotation)):
            found.append(ReportOption(param.name, annotation, param.default))
    return found


@dataclass(frozen=True, slots=True)
class ComputedReport:
    """A report's JSON and what it was computed from."""

    name: str
    content: dict[str, Any]
    position: int
    as_of: datetime
    known_at: datetime | None
    computed_at: datetime


_Key = tuple[str, datetime | None, datetime | None, tuple[tuple[str, Any], ...]]


class ReportService:
    """Computes registered reports from ``runner``'s live views (see the module docstring)."""

    def __init__(self, runner: ProjectionRunner, views_lock: ReadWriteLock, *,
                 max_age: float = 5.0, stale_after: float = 30.0,
                 clock: Callable[[], datetime] | None = None,
                 reports: Mapping[str, tuple[str, Callable[..., Any]]] = REPORTS) -> None:
        """Serve ``reports`` (name -> view, builder) from ``runner``'s views, holding
        ``views_lock`` shared while reading."""
        self.reports = reports
        self.runner = runner
        self.views_lock = views_lock
        self.max_age = max_age
        self.stale_after = max(stale_after, max_age)
        self.clock = clock or (lambda: datetime.now(UTC))
        self._cache: OrderedDict[_Key, tuple[float, ComputedReport]] = OrderedDict()
        self._guard = threading.Lock()
        self._flights: dict[_Key, threading.Lock] = {}

    def names(self) -> list[str]:
        """The registered reports whose view is known."""
        return list(self.reports)

    def view_of(self, name: str) -> str:
        """The view report ``name`` reads."""
        return self.reports[name][0]

    def compute(self, name: str, *, as_of: datetime | None = None,
                known_at: datetime | None = None, options: dict[str, Any] | None = None,
                min_position: int = 0) -> ComputedReport:
        """Report ``name`` (``KeyError`` if unknown); ``as_of`` None means now."""
        view_name, builder = self.reports[name]
        key: _Key = (name, as_of, known_at, tuple(sorted((options or {}).items())))
        age_limit = self.max_age
        if as_of is None:  # as of now: the cache answers without asking the view
            found = self._fresh(key, -1, age_limit, min_position)
            if found is not None:
                return found
        position = self.runner.positions().get(view_name, 0)
        found = self._fresh(key, position, age_limit, min_position)
        if found is not None:
            return found
        if as_of is None and age_limit > 0:
            stale = self._fresh(key, position, 2 * self.stale_after, min_position)
            if stale is not None:
                # Recompute in the background once the view moved, or (only the clock
                # moved) once the answer is stale_after old; meanwhile the stale answer
                # stands (its computed_at says when it was computed).
                if stale.position != position or self._age(key) > self.stale_after:
                    self._refresh_later(key, builder, view_name)
                return stale
        with self._guard:
            flight = self._flights.setdefault(key, threading.Lock())
        with flight:
            found = self._fresh(key, self.runner.positions().get(view_name, 0), age_limit,
                                min_position)
            if found is not None:
                return found
            return self._compute(key, builder, view_name)

    def compute_within(self, name: str, seconds: float, *,
                       options: dict[str, Any] | None = None) -> ComputedReport | None:
        """Report ``name`` as of now, as :meth:`compute` gives it when an answer (fresh, or
        stale and refreshed in the background) is at hand; otherwise it is computed in the
        background and waited for at most ``seconds``: None if it is not done by then (the
        next call finds it). A reader that must not hang on a first computation over a big
        store (a /metrics scrape) asks so."""
        key: _Key = (name, None, None, tuple(sorted((options or {}).items())))
        if self._age(key) <= 2 * self.stale_after:
            return self.compute(name, options=options)
        view_name, builder = self.reports[name]
        self._refresh_later(key, builder, view_name)
        deadline = time.monotonic() + seconds
        while True:
            with self._guard:
                entry = self._cache.get(key)
            if entry is not None:
                return entry[1]
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.01)

    def _compute(self, key: _Key, builder: Callable[..., Any], view_name: str
                 ) -> ComputedReport:
        name, as_of, known_at, options = key
        with self.views_lock.reading():
            position = self.runner.positions().get(view_name, 0)
            now = self.clock()
            params = ReportParams(as_of=as_of or now, known_at=known_at)
            view = self.runner.live[view_name]
            with self.runner.engine.connect() as conn:
                report = builder(conn, view, params, **dict(options))
            content = report.to_json()
        result = ComputedReport(name, content, position, params.as_of, known_at, now)
        with self._guard:
            self._cache[key] = (time.monotonic(), result)
            self._cache.move_to_end(key)
            while len(self._cache) > _CACHE_ENTRIES:
                # Its flight lock goes with it: kept, every distinct ``as_of`` asked for
                # would hold one for as long as the service runs.
                evicted, _ = self._cache.popitem(last=False)
                self._flights.pop(evicted, None)
        return result

    def _refresh_later(self, key: _Key, builder: Callable[..., Any], view_name: str) -> None:
        """Recompute ``key`` in a background thread unless one is already at it."""
        with self._guard:
            flight = self._flights.setdefault(key, threading.Lock())
        if not flight.acquire(blocking=False):
            return

        def refresh() -> None:
            try:
                self._compute(key, builder, view_name)
            except Exception:  # the next reader computes (or retries) it
                log.exception("refreshing report %s failed", key[0])
            finally:
                flight.release()

        threading.Thread(target=refresh, name=f"dealflow-report-{key[0]}", daemon=True).start()

    def _fresh(self, key: _Key, position: int, age_limit: float,
               min_position: int) -> ComputedReport | None:
        with self._guard:
            entry = self._cache.get(key)
        if entry is None:
            return None
        stored_at, report = entry
        if report.position < min_position:
            return None
        if key[1] is None:  # as of now: good while young enough
            return report if time.monotonic() - stored_at <= age_limit else None
        return report if report.position == position else None

    def _age(self, key: _Key) -> float:
        with self._guard:
            entry = self._cache.get(key)
        return float("inf") if entry is None else time.monotonic() - entry[0]

    def clear(self) -> None:
        """Forget every cached report (after a rebuild)."""
        with self._guard:
            self._cache.clear()
