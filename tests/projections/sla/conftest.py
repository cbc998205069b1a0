"""SLA view tests: an engine per backend, a runner over the SLA view, and timers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import select

from engine.bootstrap import Engine
from engine.domain import deal_id
from projections.report import ReportParams
from projections.runner import ProjectionRunner
from projections.sla import SlaInstance, SlaProjection, SlaReport, SlaTimer, build_report
from projections.sla import instances as sla_instances
from tests.engine.conftest import engine, make_engine
from tests.infra.factory import closing_factory

__all__ = ["SlaHarness", "engine", "make_engine", "without_ladder"]


def without_ladder(folder: Path) -> Path:
    """A definitions folder whose workflows are the shipped ones as version 2 without
    escalation steps (the ladder is read from the latest version): for tests of the
    deadline mechanics alone."""
    out = folder / "no-ladder" / "workflows"
    out.mkdir(parents=True, exist_ok=True)
    for name in ("standard", "channel"):
        data = yaml.safe_load(files("workflows").joinpath("definitions", f"{name}.yaml")
                              .read_text(encoding="utf-8"))
        data["version"] = 2
        for rule in data["sla"]:
            rule.pop("escalation", None)
        (out / f"{name}.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    return out.parent


@dataclass
class SlaHarness:
    """An engine with a runner over the SLA view (evaluating against the engine's workflows)
    and the timers a test made; everything is closed at the end of the test."""

    engine: Engine
    batch_size: int = 1000
    runners: list[ProjectionRunner] = field(default_factory=list)
    timers: list[SlaTimer] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.runner = self.new_runner(self.batch_size)

    def new_runner(self, batch_size: int = 1000) -> ProjectionRunner:
        """Another runner over the SLA view of the same store."""
        runner = self.engine.runner(["sla"], batch_size=batch_size)
        self.runners.append(runner)
        return runner

    @property
    def view(self) -> SlaProjection:
        """The live SLA view of the main runner."""
        view = self.runner.live["sla"]
        assert isinstance(view, SlaProjection)
        return view

    def instances(self, as_of: datetime, known_at: datetime | None = None,
                  *, catch_up: bool = True) -> list[SlaInstance]:
        """Every instance as of ``as_of`` (after applying the log, unless told not to)."""
        if catch_up:
            self.runner.catch_up()
        with self.runner.engine.connect() as conn:
            return sla_instances(conn, self.view, ReportParams(as_of, known_at))

    def report(self, as_of: datetime, known_at: datetime | None = None) -> SlaReport:
        """The SLA report as of ``as_of``."""
        self.runner.catch_up()
        with self.runner.engine.connect() as conn:
            return build_report(conn, self.view, ReportParams(as_of, known_at))

    def one(self, subject: str, rule: str, as_of: datetime,
            known_at: datetime | None = None) -> SlaInstance:
        """The single instance of ``rule`` on deal ``subject``."""
        found = [i for i in self.instances(as_of, known_at)
                 if i.deal == str(deal_id(subject)) and i.rule == rule]
        assert len(found) == 1, found
        return found[0]

    def timer(self, **options: Any) -> SlaTimer:
        """An SLA timer synchronised through the main runner."""
        timer = self.engine.sla_timer(self.runner, **options)
        self.timers.append(timer)
        return timer

    def dump(self, runner: ProjectionRunner | None = None) -> dict[str, list[tuple[Any, ...]]]:
        """Every row of every table of the SLA view (``deals``, ``facts``, ``escalations``,
        ``due``, ``meta``), in key order."""
        view = (runner or self.runner).live["sla"]
        assert isinstance(view, SlaProjection)
        prefix, suffix = f"view_{view.name}_", f"_{view.generation}"
        with self.runner.engine.connect() as conn:
            return {table.name.removeprefix(prefix).removesuffix(suffix): [
                        tuple(r) for r in conn.execute(
                            select(table).order_by(*table.primary_key.columns))]
                    for table in view.metadata.sorted_tables}

    def escalation_topics(self) -> list[str]:
        """Stored names of the breach, correction and rebreach events in the log, in order
        (the ladder's step events: :meth:`step_events`)."""
        notifications = self.engine.app.recorder.select_notifications(start=1, limit=1_000_000)
        return [n.topic for n in notifications if n.topic.startswith("dealflow.sla.")
                and not n.topic.startswith("dealflow.sla.escalation_step")]

    def step_events(self) -> list[Any]:
        """The escalation ladder's events in the log (recorded and corrected steps)."""
        app = self.engine.app
        notifications = app.recorder.select_notifications(start=1, limit=1_000_000)
        return [app.mapper.to_domain_event(n) for n in notifications
                if n.topic.startswith("dealflow.sla.escalation_step")]

    def close(self) -> None:
        """Release locks and connections."""
        for timer in self.timers:
            timer.stop()
        for runner in self.runners:
            runner.stop()


@pytest.fixture
def make_sla(make_engine: Callable[..., Engine]) -> Iterator[Callable[..., SlaHarness]]:
    """Build harnesses on the test's store (engine settings as keyword arguments)."""

    def make(batch_size: int = 1000, **settings: Any) -> SlaHarness:
        return SlaHarness(make_engine(**settings), batch_size=batch_size)

    yield from closing_factory(make, SlaHarness.close)


@pytest.fixture
def sla(make_sla: Callable[..., SlaHarness]) -> SlaHarness:
    """A harness on the test's store with the shipped workflows."""
    return make_sla()
