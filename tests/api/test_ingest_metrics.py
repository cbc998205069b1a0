"""The ingest counters' labels taken from the input (``source``, ``reason``) stay bounded:
past ``LABEL_VALUES`` distinct values per channel the rest count as ``OTHER``, and every
input is still counted."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from engine.ingest.batch import BatchResult, Outcome
from engine.metrics import IngestMetrics, Metrics
from engine.metrics.ingest import LABEL_VALUES, OTHER


def _samples(registry: CollectorRegistry, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    return {tuple(sorted(s.labels.items())): s.value
            for family in registry.collect() for s in family.samples if s.name == name}


def test_sources_and_reasons_from_the_input_are_bounded_and_every_input_counted() -> None:
    metrics = Metrics(CollectorRegistry())
    observer = IngestMetrics(metrics, "http")
    extra = 50
    sources = [f"svc-{i}" for i in range(LABEL_VALUES + extra)]
    outcomes = [Outcome("accepted", f"in:{i}", source=s, fact_type="deal.opened")
                for i, s in enumerate(sources)]
    outcomes += [Outcome("duplicate", "in:d", source=sources[-1])]  # a source past the bound
    outcomes += [Outcome("rejected", f"in:r{i}", reason=f"invalid:data.k{i}")
                 for i in range(LABEL_VALUES + extra)]
    observer.batch_stored(BatchResult(outcomes=outcomes), 0.01, 1)
    observer.batch_stored(BatchResult(outcomes=[  # one seen before keeps its own series
        Outcome("accepted", "in:x", source="svc-0", fact_type="deal.opened")]), 0.01, 1)

    accepted = _samples(metrics.registry, "dealflow_facts_ingested_total")
    by_source = {dict(k)["source"]: v for k, v in accepted.items()}
    assert len(by_source) == LABEL_VALUES + 1
    assert by_source[OTHER] == extra
    assert by_source["svc-0"] == 2
    assert sum(by_source.values()) == LABEL_VALUES + extra + 1
    duplicates = _samples(metrics.registry, "dealflow_facts_duplicate_total")
    assert {dict(k)["source"]: v for k, v in duplicates.items()} == {OTHER: 1}
    rejected = _samples(metrics.registry, "dealflow_facts_rejected_total")
    by_reason = {dict(k)["reason"]: v for k, v in rejected.items()}
    assert len(by_reason) == LABEL_VALUES + 1
    assert by_reason[OTHER] == extra and by_reason["invalid:data.k0"] == 1
    assert sum(by_reason.values()) == LABEL_VALUES + extra
