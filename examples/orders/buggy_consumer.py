"""An order consumer with a classic bug: it commits a batch before processing it.

A crash between the commit and the processing loses the batch for good: the group's
committed offset is already past it, so no member reads it again (at-most-once).
Usage: buggy_consumer.py BOOTSTRAP TOPIC GROUP (records into the history kchaos started it with).
"""

from __future__ import annotations

import sys

from orders import consumer_config, handle, stop_on_sigterm

import kchaos


def main(bootstrap: str, topic: str, group: str) -> None:
    history = kchaos.History.from_env()
    consumer = history.consumer(consumer_config(bootstrap, group), name="orders-consumer")
    consumer.subscribe([topic])
    stop = stop_on_sigterm()
    while not stop:
        batch = [m for m in consumer.consume(50, timeout=0.5) if m.error() is None]
        if not batch:
            continue
        consumer.commit(asynchronous=False)  # BUG: the offsets move on before the orders are handled
        kchaos.crash_point("before-processing")
        for msg in batch:
            handle(msg)
            consumer.processed(msg)
    consumer.close()


if __name__ == "__main__":
    main(*sys.argv[1:4])
