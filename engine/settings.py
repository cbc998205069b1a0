"""Settings, parsed once at the edge (environment ``DEALFLOW_*`` or CLI options)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from engine.kafka.settings import KafkaSettings

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

    kafka: KafkaSettings = Field(
        default_factory=KafkaSettings,
        description="Kafka consumer, dead letters and relay (environment DEALFLOW_KAFKA_*).")

    # --- the audit trail (``dealflow audit``): hash chain, signed checkpoints ------------
    audit_key: Path = Field(
        default=Path("dealflow-audit.key"),
        description="Ed25519 private key (PEM) that signs audit checkpoints; its public key "
        "is <file>.pub (create both with `dealflow audit keygen`).",
    )
    audit_checkpoint_every: int = Field(
        default=100_000, ge=1,
        description="The audit chain follower signs a checkpoint after this many new events.",
    )
    audit_checkpoint_seconds: float = Field(
        default=3600.0, gt=0,
        description="... or after this many seconds, whichever comes first (if the log grew).",
    )
