"""Settings every librdkafka client kchaos creates shares, and starting a transactional one."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any

from confluent_kafka import KafkaException

_silent = logging.getLogger("kchaos.librdkafka")
_silent.addHandler(logging.NullHandler())
_silent.propagate = False

#: librdkafka's own log lines (even FATAL ones) go nowhere: the history is the record.
QUIET = {"log_level": 0, "logger": _silent}


_LOGS: dict[str, logging.Logger] = {}
_LOGS_LOCK = threading.Lock()


def logged_to(config: dict[str, Any], path: Path) -> dict[str, Any]:
    """``config`` with librdkafka's log lines appended to ``path`` (unless the caller set
    its own ``logger``): a client still open while its cluster goes down logs ``FAIL ...
    Connection refused`` lines, which belong in the run's folder, not the terminal. One
    logger per file, however many clients write it; ``close_log`` lets it go."""
    if "logger" in config:
        return config
    with _LOGS_LOCK:
        logger = _LOGS.get(str(path))
        if logger is None:
            logger = logging.getLogger(f"kchaos.librdkafka.{len(_LOGS)}.{path.name}")
            handler = logging.FileHandler(path, delay=True)
            handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
            logger.addHandler(handler)
            logger.propagate = False
            logger.setLevel(logging.DEBUG)
            _LOGS[str(path)] = logger
    return {**config, "logger": logger}


def close_log(path: Path) -> None:
    """Close the log file ``logged_to`` opened for ``path`` (a test's history is done)."""
    with _LOGS_LOCK:
        logger = _LOGS.pop(str(path), None)
    for handler in list(logger.handlers if logger else []):
        logger.removeHandler(handler)  # type: ignore[union-attr]
        handler.close()


def init_transactions(producer: Any, patience: float = 90.0) -> Any:
    """``producer.init_transactions``, again while it fails retriably (its coordinator
    moving, a killed coordinator timing it out, the previous instance's transaction being
    aborted), for up to ``patience`` seconds; returns the producer."""
    deadline = time.monotonic() + patience
    while True:
        try:
            producer.init_transactions(30)
            return producer
        except KafkaException as exc:
            if exc.args[0].fatal() or not exc.args[0].retriable() or time.monotonic() > deadline:
                raise


def config_text(value: object) -> str:
    """A config value as Kafka's properties and Admin API want it (``true``, not ``True``)."""
    return str(value).lower() if isinstance(value, bool) else str(value)
