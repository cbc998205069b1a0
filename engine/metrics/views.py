"""Gauges read from the views at scrape time: log head, each view's position and lag, the
outbox relay's lag, the open pipeline by workflow and stage, time in stage, SLA instances by
rule and escalation steps by rule and step, the forecast rollups of the current and the
next quarter per team, and routing (assignments by rule, unassigned deals, each rep's open
load).

The pipeline, SLA, forecast and routing figures come from reads "as of now" whose cost does
not grow with the log (:func:`projections.registry.gauge_builders`: the pipeline's
current-state tables, SLA counts kept incrementally, the forecast of a period, the routing
report), reused for ``metrics_view_cache_seconds`` and then refreshed in the background; a
read that is not registered, or fails, leaves its families out of the scrape and counts
``dealflow_view_report_errors_total``.

They describe the whole store, not the process: with several replicas, only the one that
keeps the views (``exporting()``: it holds their lock) exports them, and says so with
``dealflow_view_exporter`` 1, so that a ``sum`` over replicas counts each deal once. Log
and view positions are the same from every replica and are exported by all (``max`` them).
"""

from __future__ import annotations

import logging
from collections import Counter as Tally
from collections.abc import Callable, Iterable, Iterator, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

__all__ = ["ViewCollector"]

log = logging.getLogger(__name__)
ReadReport = Callable[..., Mapping[str, Any] | None]  # (name, **options)
#: The forecast rollups exported, by the report's JSON field.
_ROLLUPS = {"commit": "commit_forecast", "best_case": "best_case_forecast",
            "pipeline": "pipeline_forecast"}


def _number(value: Any) -> float | None:
    if value is None:
        return None
    try:
        return float(Decimal(str(value)))
    except (InvalidOperation, ValueError):
        return None


def _items(report: Mapping[str, Any], key: str) -> Iterable[Mapping[str, Any]]:
    value = report.get(key)
    return [v for v in value if isinstance(v, Mapping)] if isinstance(value, list) else []


class ViewCollector(Collector):
    """A custom collector (register it on the service's registry)."""

    def __init__(self, *, head: Callable[[], int], positions: Callable[[], dict[str, int]],
                 read_report: ReadReport, registry: CollectorRegistry,
                 outbox: Callable[[], int] | None = None,
                 exporting: Callable[[], bool] | None = None) -> None:
        """``read_report(name, **options)`` gives a report's JSON as of now, or None if
        unregistered;
        ``outbox()`` the outbox relay's log position (when this process relays);
        ``exporting()`` whether this process exports the pipeline and SLA gauges (always,
        when not given)."""
        self.outbox = outbox
        self.exporting = exporting
        self.head = head
        self.positions = positions
        self.read_report = read_report
        self.errors = Counter("dealflow_view_report_errors",
                              "Scrapes that could not read a report from the views.",
                              ["report"], registry=registry)
        registry.register(self)

    def collect(self) -> Iterator[Metric]:
        """All families; what cannot be read is left out (and counted)."""
        yield from self._positions()
        exporting = self.exporting is None or self.exporting()
        yield GaugeMetricFamily(
            "dealflow_view_exporter", "1 if this process keeps the views (holds their lock) "
            "and so exports the pipeline and SLA gauges; 0 on the other replicas.",
            value=1 if exporting else 0)
        if exporting:
            yield from self._pipeline()
            yield from self._sla()
            yield from self._forecast()
            yield from self._routing()

    def _report(self, name: str, **options: Any) -> Mapping[str, Any] | None:
        try:
            return self.read_report(name, **options)
        except Exception:  # a scrape must not fail because one view cannot be read
            log.exception("reading report %s for metrics failed", name)
            self.errors.labels(name).inc()
            return None

    def _positions(self) -> Iterator[Metric]:
        try:
            head, positions = self.head(), self.positions()
        except Exception:
            log.exception("reading view positions for metrics failed")
            self.errors.labels("positions").inc()
            return
        yield GaugeMetricFamily("dealflow_log_head_position",
                                "Position of the last event in the log.", value=head)
        position = GaugeMetricFamily("dealflow_view_position",
                                     "Log position each view has applied.", labels=["view"])
        lag = GaugeMetricFamily("dealflow_view_lag_events",
                                "Events in the log a view has not applied yet.",
                                labels=["view"])
        for view, at in sorted(positions.items()):
            position.add_metric([view], at)
            lag.add_metric([view], max(0, head - at))
        yield position
        yield lag
        if self.outbox is not None:
            try:
                relayed = self.outbox()
            except Exception:
                log.exception("reading the outbox relay's position failed")
                self.errors.labels("outbox").inc()
                return
            yield GaugeMetricFamily("dealflow_outbox_lag_events",
                                    "Events in the log not yet relayed to Kafka.",
                                    value=max(0, head - relayed))

    def _pipeline(self) -> Iterator[Metric]:
        report = self._report("pipeline")
        if report is None:
            return
        deals = GaugeMetricFamily("dealflow_pipeline_open_deals",
                                  "Open deals by workflow and stage (as of now).",
                                  labels=["workflow", "stage"])
        amount = GaugeMetricFamily("dealflow_pipeline_open_amount",
                                   "Open amount by workflow, stage and currency (in units of "
                                   "the currency).", labels=["workflow", "stage", "currency"])
        weighted = GaugeMetricFamily("dealflow_pipeline_open_weighted_amount",
                                     "Open amount weighted by stage win probability.",
                                     labels=["workflow", "stage", "currency"])
        counts: Tally[tuple[str, str]] = Tally()
        for row in _items(report, "open_by_stage"):
            key = (str(row.get("workflow")), str(row.get("stage")))
            counts[key] += int(row.get("deals") or 0)
            currency = str(row.get("currency"))
            for family, field in ((amount, "amount"), (weighted, "weighted_amount")):
                value = _number(row.get(field))
                if value is not None:
                    family.add_metric([*key, currency], value)
        for key, n in sorted(counts.items()):
            deals.add_metric(list(key), n)
        stage_time = GaugeMetricFamily(
            "dealflow_pipeline_time_in_stage_seconds",
            "Time deals spent in a stage over completed stays: median (quantile 0.5) and "
            "p90 (quantile 0.9).", labels=["workflow", "stage", "quantile"])
        for row in _items(report, "time_in_stage"):
            where = [str(row.get("workflow")), str(row.get("stage"))]
            for quantile, field in (("0.5", "median_seconds"), ("0.9", "p90_seconds")):
                value = _number(row.get(field))
                if value is not None:
                    stage_time.add_metric([*where, quantile], value)
        yield from (deals, amount, weighted, stage_time)

    def _routing(self) -> Iterator[Metric]:
        report = self._report("routing")
        if report is None:
            return
        by_rule = GaugeMetricFamily(
            "dealflow_routing_assignments", "Deals routed by the engine, by the rule that "
            "chose their owner (all time).", labels=["rule"])
        rules = report.get("rules")
        for rule, n in sorted(rules.items()) if isinstance(rules, Mapping) else ():
            by_rule.add_metric([str(rule)], int(n))
        unassigned = report.get("unassigned")
        left = unassigned if isinstance(unassigned, Mapping) else {}
        opened = GaugeMetricFamily(
            "dealflow_routing_unassigned_deals", "Deals opened unassigned (no rule could "
            "choose) all time (state=routed), and open deals without owner now (state=open).",
            labels=["state"])
        opened.add_metric(["routed"], int(left.get("routed_unassigned") or 0))
        opened.add_metric(["open"], int(left.get("open_without_owner") or 0))
        load = GaugeMetricFamily("dealflow_routing_open_load",
                                 "Open deals each rep owns (its open load) as of now.",
                                 labels=["rep"])
        for row in _items(report, "reps"):
            load.add_metric([str(row.get("rep"))], int(row.get("open_load") or 0))
        yield from (by_rule, opened, load)

    def _sla(self) -> Iterator[Metric]:
        report = self._report("sla")
        if report is None:
            return
        instances = GaugeMetricFamily(
            "dealflow_sla_instances",
            "SLA rule instances by workflow, rule and outcome (met, breached, open, "
            "cancelled) as of now.", labels=["workflow", "rule", "outcome"])
        overdue = GaugeMetricFamily(
            "dealflow_sla_overdue_instances",
            "SLA rule instances breached and still outstanding as of now.",
            labels=["workflow", "rule"])
        rules: list[tuple[str, str]] = []
        for row in _items(report, "rules"):
            key = (str(row.get("workflow")), str(row.get("rule")))
            rules.append(key)
            for outcome in ("met", "breached", "open", "cancelled"):
                instances.add_metric([*key, outcome], int(row.get(outcome) or 0))
        late: Tally[tuple[str, str]] = Tally()
        for row in _items(report, "overdue"):  # per rule, with its count
            late[(str(row.get("workflow")), str(row.get("rule")))] += int(row.get("count") or 0)
        for key in sorted(set(rules) | set(late)):
            overdue.add_metric(list(key), late[key])
        steps = GaugeMetricFamily(
            "dealflow_sla_escalation_steps",
            "Escalation steps the SLA timer recorded (owner, manager...) by workflow, rule, "
            "step and state (recorded; of those notified, no_owner, no_manager; corrected) "
            "as of now.", labels=["workflow", "rule", "step", "state"])
        for row in _items(report, "escalations"):
            labels = [str(row.get("workflow")), str(row.get("rule")), str(row.get("step"))]
            for state in ("recorded", "notified", "no_owner", "no_manager", "corrected"):
                steps.add_metric([*labels, state], int(row.get(state) or 0))
        yield instances
        yield overdue
        yield steps

    def _forecast(self) -> Iterator[Metric]:
        # The forecast report's default period is the quarter of now (Asia/Shanghai); the
        # next one is asked by name. Labels say ``current``/``next``, never the period, so a
        # quarter's series do not pile up as time goes by.
        current = self._report("forecast")
        if current is None:
            return
        rollups = GaugeMetricFamily(
            "dealflow_forecast_rollup_amount",
            "Forecast rollups (commit = closed + commit, best_case = that + best case, "
            "pipeline = that + pipeline) of the current and the next quarter as of now, per "
            "team (the reps' profile teams, 'no team', 'unassigned') and currency.",
            labels=["quarter", "team", "rollup", "currency"])
        periods = [("current", current)]
        period = current.get("period")
        if isinstance(period, str) and len(period) == 7:
            year, q = int(period[:4]), int(period[-1])
            upcoming = self._report("forecast", period=f"{year + q // 4}-Q{q % 4 + 1}")
            if upcoming is not None:
                periods.append(("next", upcoming))
        for quarter, report in periods:
            for row in _items(report, "rows"):
                if row.get("scope") not in ("team", "unassigned"):
                    continue
                where = [quarter, str(row.get("name"))]
                for rollup, field in _ROLLUPS.items():
                    value = _number(row.get(field))
                    if value is not None:
                        rollups.add_metric([*where, rollup, str(row.get("currency"))], value)
        yield rollups
