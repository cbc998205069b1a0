"""Segments view tests: the engine fixtures (SQLite and PostgreSQL)."""

from __future__ import annotations

from tests.engine.conftest import engine, make_engine

__all__ = ["engine", "make_engine"]
