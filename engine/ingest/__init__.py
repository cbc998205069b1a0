"""Ingestion: raw inputs -> validated facts -> decisions -> one transaction per batch."""

from engine.ingest.batch import BatchResult, Ingestor, Outcome, RawInput
from engine.ingest.summary import IngestSummary

__all__ = ["BatchResult", "IngestSummary", "Ingestor", "Outcome", "RawInput"]
