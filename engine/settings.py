"""Settings, parsed once at the edge (environment ``DEALFLOW_*`` or CLI options)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from engine.contract.limits import InputLimits
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
        description="Ingest processes: one decides every fact in line order, the others "
        "parse and validate ahead of it; default: for files over 4 MiB 1 plus one per idle "
        "core beyond two (up to 3), else 1.")
    store_busy_timeout: int = Field(
        default=30, ge=1, le=3600,
        description="Seconds a SQLite write waits for another writer's lock before it "
        "fails (`serve` then answers 503 with Retry-After and marks the store down until "
        "the lock is given back); PostgreSQL waits on its own lock timeout.")
    cache_size: int = Field(default=20_000, ge=0,
                            description="Aggregates kept in memory between batches.")
    definitions: Path | None = Field(
        default=None, description="A folder of your own definitions (YAML): workflows/, "
        "plans/ and routing/ (docs/routing.md)."
    )
    kafka: KafkaSettings = Field(
        default_factory=KafkaSettings,
        description="Kafka consumer, dead letters and relay (environment DEALFLOW_KAFKA_*).")

    # --- the service (``dealflow serve``): HTTP API, metrics, health ---------------------
    api_host: str = Field(default="127.0.0.1", description="HTTP API listen address.")
    api_port: int = Field(default=8080, ge=0, le=65535,
                          description="HTTP API listen port (0 picks a free port).")
    serve_kafka: bool = Field(
        default=False,
        description="Whether `serve` also consumes facts from Kafka and relays domain events "
        "(brokers, topics and group under `kafka`, i.e. DEALFLOW_KAFKA_*).")
    api_max_batch: int = Field(default=5000, ge=1, le=50_000,
                               description="Most facts one HTTP batch may carry.")
    api_max_body_bytes: int = Field(default=16 * 1024 * 1024, ge=1024,
                                    description="Largest HTTP request body accepted.")
    api_max_waiting: int = Field(
        default=20_000, ge=1, le=1_000_000,
        description="Most facts of HTTP requests waiting for (or in) the group commit; a "
        "request beyond it is refused at once with 503 and Retry-After (a bounded queue).")
    api_max_waiting_requests: int = Field(
        default=24, ge=1, le=1000,
        description="Most HTTP requests waiting for (or in) the group commit, each holding "
        "one of the server's 40 threads; more are refused with 503 and Retry-After, so that "
        "the other threads still authenticate, refuse and serve reads.")
    input_max_bytes: int = Field(
        default=64 * 1024, ge=256, le=16 * 1024 * 1024,
        description="Largest single fact (bytes) from any source; larger is rejected "
        "naming this limit.")
    input_max_string: int = Field(
        default=4096, ge=128, le=16 * 1024 * 1024,
        description="Longest string (characters, keys included) in a fact; longer is "
        "rejected naming the field and this limit.")
    input_max_depth: int = Field(
        default=16, ge=4, le=512,
        description="Deepest nesting of JSON objects and arrays in a fact (the fact is "
        "level 1); deeper is rejected naming this limit.")
    rejection_max_raw_bytes: int = Field(
        default=16 * 1024, ge=256, le=16 * 1024 * 1024,
        description="Most bytes of a rejected input kept in the rejections store (the rest "
        "is cut off), so that hostile input cannot fill the disk.")
    api_page_max: int = Field(default=1000, ge=1, le=100_000,
                              description="Largest page any list endpoint returns.")
    api_wait_seconds: float = Field(
        default=10.0, ge=0, le=300,
        description="Longest a request waits for the views to reach a position.")
    api_report_max_age: float = Field(
        default=5.0, ge=0, le=3600,
        description="Seconds an 'as of now' report may be served from cache (0: never).")
    api_token_cache_seconds: float = Field(
        default=5.0, ge=0, le=3600,
        description="Seconds a verified API token is trusted before it is looked up again "
        "(a revocation takes effect within this time in other processes).")
    metrics_auth: bool = Field(
        default=True, description="Whether /metrics needs a token (role viewer or above).")
    metrics_view_cache_seconds: float = Field(
        default=10.0, ge=0, le=3600,
        description="Seconds the pipeline/SLA gauges read from the views are reused.")
    metrics_first_read_seconds: float = Field(
        default=5.0, ge=0, le=3600,
        description="How long a /metrics scrape waits for a view gauge's first reading "
                    "(the SLA counts' first pass over a big store); past it the scrape "
                    "answers without those gauges and the reading goes on in the "
                    "background.")
    ready_max_lag: int = Field(
        default=10_000, ge=0,
        description="/readyz fails while a view is more than this many events behind.")
    sla_timer_interval: float = Field(
        default=30.0, ge=0, le=3600,
        description="Seconds between SLA timer ticks in `serve` (0: do not run the timer).")
    api_report_stale_seconds: float = Field(
        default=30.0, ge=0, le=3600,
        description="Seconds an 'as of now' report may still be served (recomputed in the "
        "background once its view moved); each response says when it was computed.")
    api_group_commit: int = Field(
        default=2000, ge=1, le=50_000,
        description="Most facts of concurrent HTTP requests decided and stored together in "
        "one transaction (1: each request alone).")
    serve_views: bool = Field(
        default=True,
        description="Whether `serve` runs the views' runner and the SLA timer (false for "
        "replicas that only serve while another process keeps the views).")
    views_process: bool = Field(
        default=True,
        description="Whether `serve` runs the views' runner and SLA timer in a child process "
        "(another core, no GIL contention with requests) rather than a thread.")
    serve_heap_trim_seconds: float = Field(
        default=60.0, ge=0, le=3600,
        description="Seconds between giving the C heap's free pages back to the system in "
        "`serve` and its views process (glibc malloc_trim; 0: never), so RSS follows the "
        "memory in use.")
    serve_sqlite_heap_mb: int = Field(
        default=16, ge=0, le=1_000_000,
        description="SQLite's soft heap limit (MiB) in `serve` and its views process (0: "
        "none): past it SQLite reuses its least recently cached pages instead of growing, "
        "so the page caches of the store's many connections (8 MiB each for the event "
        "store's) do not grow with the store.")
    serve_wal_check_seconds: float = Field(
        default=10.0, ge=0, le=3600,
        description="Seconds between looks at a SQLite store's write-ahead log in `serve` "
        "(0: never); once it is past `serve_wal_limit_mb` it is checkpointed and truncated.")
    serve_wal_limit_mb: int = Field(
        default=64, ge=1, le=1_000_000,
        description="Size (MB) past which `serve` checkpoints a SQLite store's write-ahead "
        "log and truncates it (readers and writers keep it from restarting by itself).")
    serve_wal_busy_ms: int = Field(
        default=500, ge=1, le=60_000,
        description="Milliseconds that WAL checkpoint waits for the writer's lock and the "
        "readers; a writer waits at most that long behind it, and it tries again later.")

    pg_bin: Path | None = Field(
        default=None,
        description="A folder holding pg_dump and pg_restore for `dealflow backup`/`restore` "
        "on PostgreSQL (default: /usr/lib/postgresql/<server major>/bin, then PATH); they "
        "must be of the server's major version.")

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

    def input_limits(self) -> InputLimits:
        """The limits every input is held to (:mod:`engine.contract.limits`)."""
        return InputLimits(max_bytes=self.input_max_bytes, max_string=self.input_max_string,
                           max_depth=self.input_max_depth,
                           max_kept_bytes=self.rejection_max_raw_bytes)
