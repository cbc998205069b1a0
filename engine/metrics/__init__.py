"""Prometheus metrics: instruments on a registry of our own, the ingest observer, HTTP
middleware and the collector that reads the views at scrape time."""

from engine.metrics.http import HttpMetricsMiddleware
from engine.metrics.ingest import IngestMetrics
from engine.metrics.instruments import Metrics
from engine.metrics.views import ViewCollector

__all__ = ["HttpMetricsMiddleware", "IngestMetrics", "Metrics", "ViewCollector"]
