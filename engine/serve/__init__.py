"""The service process: wiring (``Service``), cached reports, and running it with uvicorn."""

from engine.serve.service import BackgroundTask, Readiness, Service

__all__ = ["BackgroundTask", "Readiness", "Service"]
