"""The order consumer fixed: it processes a batch, then commits it.

A crash before the commit means the batch is read again by whoever takes the partition
(at-least-once): re-deliveries, never a lost order. Make the handler idempotent (keyed
by order id) if processing twice matters.
Usage: fixed_consumer.py BOOTSTRAP TOPIC GROUP (records into the history kchaos started it with).
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
        kchaos.crash_point("before-processing")
        for msg in batch:
            handle(msg)
            consumer.processed(msg)
        consumer.commit(asynchronous=False)  # only what was processed
    consumer.close()


if __name__ == "__main__":
    main(*sys.argv[1:4])
