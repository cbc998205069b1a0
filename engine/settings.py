"""Settings, parsed once at the edge (environment ``DEALFLOW_*`` or CLI options)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings"]


class Settings(BaseSettings):
    """Everything configurable; passed down as a value, never read from globals."""

    model_config = SettingsConfigDict(env_prefix="DEALFLOW_", extra="ignore")

    db: str = Field(
        default="sqlite:///dealflow.db",
        description="Store URL: sqlite:///FILE (default ./dealflow.db) or postgresql://...",
    )
    batch_size: int = Field(default=1000, ge=1, le=50_000,
                            description="Facts decided and saved per transaction.")
    workers: int | None = Field(
        default=None, ge=1, le=64,
        description="Ingest worker processes (facts routed by subject); default: one per "
        "core, up to 4, for files over 4 MiB, else 1.")
    cache_size: int = Field(default=20_000, ge=0,
                            description="Aggregates kept in memory between batches.")
    definitions: Path | None = Field(
        default=None, description="A folder of extra workflow definitions (YAML)."
    )
