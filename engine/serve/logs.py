"""How ``dealflow serve`` logs: uvicorn's own lines and its access log (one line per
request), and dealflow's (views, SLA timer, Kafka) in the same format, from the serving
process and from its views process alike."""

from __future__ import annotations

import copy
import logging
import logging.config
from typing import Any

from uvicorn.config import LOG_LEVELS, LOGGING_CONFIG

__all__ = ["configure_logging", "log_config"]

#: Loggers of dealflow's own background work (the views' runner, the SLA timer, Kafka).
OURS = ("engine", "projections")


def _level(level: str | int) -> int:
    return LOG_LEVELS[level.lower()] if isinstance(level, str) else level


def log_config(level: str | int = "info") -> dict[str, Any]:
    """uvicorn's logging configuration, extended to dealflow's loggers at ``level``
    (kafka-python's own at WARNING or above: it is chatty at INFO)."""
    number = _level(level)
    config = copy.deepcopy(LOGGING_CONFIG)
    for name in OURS:
        config["loggers"][name] = {"handlers": ["default"], "level": number,
                                   "propagate": False}
    config["loggers"]["kafka"] = {"handlers": ["default"],
                                  "level": max(number, logging.WARNING), "propagate": False}
    for name in ("uvicorn.error", "uvicorn.access"):
        config["loggers"][name]["level"] = number
    return config


def configure_logging(level: str | int = "info") -> None:
    """Apply :func:`log_config` to this process."""
    logging.config.dictConfig(log_config(level))
