"""Projection tests use the engine fixtures."""

from tests.engine.conftest import engine, make_engine

__all__ = ["engine", "make_engine"]
