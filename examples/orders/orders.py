"""What the two order consumers share: their client settings and the order handler.

The handler's side effect is a line per order in a ledger file (``ORDERS_LEDGER``); in a
real service it would be a payment or an e-mail: the thing that must happen once.
"""

from __future__ import annotations

import os
import signal
from typing import Any


def consumer_config(bootstrap: str, group: str) -> dict[str, Any]:
    """Manual commits; a crashed member leaves the group after 6 s (not the 45 s default)."""
    return {
        "bootstrap.servers": bootstrap,
        "group.id": group,
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "session.timeout.ms": 6000,
        "heartbeat.interval.ms": 1000,
    }


def handle(msg: Any) -> None:
    """Process one order: append it to the ledger."""
    ledger = os.environ.get("ORDERS_LEDGER")
    if ledger:
        with open(ledger, "a") as out:
            out.write(f"{msg.key().decode()} {msg.value().decode()}\n")


def stop_on_sigterm() -> list[int]:
    """A list that becomes non-empty when SIGTERM arrives (a graceful shutdown)."""
    stop: list[int] = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    return stop
