"""The one exception tree of dealflow.

::

    DealflowError
    ├── BrokerUnreachableError        no Kafka broker answered (a one-shot command stops)
    ├── ConfigurationError            settings or definitions that cannot be used
    │   ├── WorkflowDefinitionError   a workflow file names an unknown stage, fact, ...
    │   └── RoutingDefinitionError    a routing file names an unknown strategy, ...
    ├── NotFoundError                 a deal, view, report or rep asked for does not exist
    ├── OverloadedError               more work waiting than the service takes; retry later
    ├── BackupError                   a backup or restore refused (would overwrite, no tool)
    ├── ForecastIdentityError         a waterfall row does not add up: a bug in dealflow
    ├── ReportOptionError             a report's option is missing or malformed; names it
    ├── FactRejectedError             an input fact is refused (kept in the rejections store)
    │   ├── InvalidFactError          envelope or data fails validation; names the field
    │   ├── DuplicateConflictError    same (source, id) already accepted with other content
    │   └── RuleViolationError        the workflow forbids it; names the rule
    └── StoreError                    the event store could not do what was asked
        ├── ConcurrencyConflictError  another writer appended to the same aggregate first
        ├── PositionConflictError     a follower's saved position moved under it
        ├── StoreUnavailableError     the database does not answer (down, locked); retry
        └── StoreNotFoundError        a read was asked of a store that does not exist

Internals raise these; the edges (CLI, ingest pipeline, HTTP, Kafka) decide whether to
retry, reject to the dead-letter store, or stop.
"""

from __future__ import annotations

__all__ = [
    "BackupError",
    "BrokerUnreachableError",
    "ConcurrencyConflictError",
    "ConfigurationError",
    "DealflowError",
    "DuplicateConflictError",
    "FactRejectedError",
    "ForecastIdentityError",
    "InvalidFactError",
    "NotFoundError",
    "OverloadedError",
    "PositionConflictError",
    "ReportOptionError",
    "RoutingDefinitionError",
    "RuleViolationError",
    "StoreError",
    "StoreNotFoundError",
    "StoreUnavailableError",
    "WorkflowDefinitionError",
]


class DealflowError(Exception):
    """Base class of every error dealflow raises on purpose."""


class BrokerUnreachableError(DealflowError):
    """No Kafka broker answered at the bootstrap servers; the message names them and why
    (connection refused, no answer, unknown host). Services retry; one-shot commands stop."""


class ConfigurationError(DealflowError):
    """Settings or definitions that cannot be used."""


class NotFoundError(DealflowError):
    """A deal, view, report or rep asked for does not exist; the message names it."""


class OverloadedError(DealflowError):
    """More work is waiting than the service takes (its bounded queue is full): refused at
    once rather than queued without bound; HTTP answers 503 with ``Retry-After``. The
    message names the limit."""


class BackupError(DealflowError):
    """A backup or restore cannot be done as asked: its output or target exists (neither
    ever overwrites), the backup is not one, or no ``pg_dump``/``pg_restore`` of the
    server's major version is installed. The message names what and why; the CLI exits 2."""


class ForecastIdentityError(DealflowError):
    """A waterfall row broke end = start + new + pulled_in + increased - decreased - pushed
    - won - lost: a bug in dealflow, never a property of the data. The message names the
    row and both sides; the report fails rather than print figures that do not add up."""


class ReportOptionError(DealflowError):
    """A report was asked with an option it needs missing or malformed (``--period``,
    ``--from``, ...); the message names the option. The CLI exits 2, HTTP answers 422."""


class WorkflowDefinitionError(ConfigurationError):
    """A workflow definition is invalid; the message names the offending item."""


class RoutingDefinitionError(ConfigurationError):
    """A routing definition is invalid; the message names the file and the offending item."""


class FactRejectedError(DealflowError):
    """An input fact is refused.

    ``code`` is a stable machine-readable reason (``invalid``, ``conflict`` or a rule name),
    ``field`` names the offending field for validation errors, ``rule`` the workflow rule.
    """

    code: str = "rejected"

    def __init__(self, message: str, *, field: str | None = None, rule: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        self.rule = rule

    @property
    def reason(self) -> str:
        """The reason code stored with the rejection: the rule name, or the error code."""
        return self.rule or self.code


class InvalidFactError(FactRejectedError):
    """The envelope or data failed validation; ``field`` names it (``data.amount``)."""

    code = "invalid"

    @property
    def reason(self) -> str:
        """``invalid:<field>``, e.g. ``invalid:data.amount`` or ``invalid:(body)``."""
        return f"invalid:{self.field}" if self.field else self.code


class DuplicateConflictError(FactRejectedError):
    """The same (``source``, ``id``) was already accepted with different content."""

    code = "conflict"


class RuleViolationError(FactRejectedError):
    """The workflow forbids the fact; ``rule`` names the rule (``stage_jump``, ...)."""

    code = "rule"


class StoreError(DealflowError):
    """The event store could not do what was asked."""


class ConcurrencyConflictError(StoreError):
    """Another writer appended to the same aggregate first; the caller retries."""


class PositionConflictError(StoreError):
    """A follower's saved position (a view's, the relay's, the audit chain's) was moved by
    someone else since it was read: the batch was rolled back, nothing applied twice."""


class StoreUnavailableError(StoreError):
    """The database does not answer (stopped, unreachable, or a SQLite file locked by
    another writer beyond the busy timeout): nothing was stored, the caller retries; HTTP
    answers 503 with ``Retry-After``."""


class StoreNotFoundError(StoreError):
    """A read-only command named a store that does not exist (nothing was created)."""
