"""Named steps: what data alone cannot say (inspect segment files, change a topic's
configs or partitions mid-run). An experiment runs one with ``do: step, args: {name: NAME, ...}``.

Each step is a function ``(cluster, nemesis, **args)``; its other parameters are its
arguments, bound and checked when the experiment file loads. Steps are registered here,
explicitly: adding one is a function in this package and a line in ``STEPS``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from kchaos.steps import broker, deploy, log, misfits, perf, topic

STEPS: dict[str, Callable[..., None]] = {
    "inspect-log": log.inspect_log_step,
    "set-topic-config": log.set_topic_config_step,
    "add-partitions": topic.add_partitions_step,
    "set-broker-config": broker.set_broker_config_step,
    "perf-test": perf.perf_test_step,
    "deploy-fix": deploy.deploy_fix_step,
    "request-reply": misfits.request_reply_step,
    "oversized-record": misfits.oversized_record_step,
    "delete-one-record": misfits.delete_one_record_step,
    "priority": misfits.priority_step,
}


def bind(name: Any, args: dict[str, Any]) -> dict[str, Any]:
    """Check a step's name and bind its arguments to its signature (ValueError otherwise)."""
    fn = STEPS.get(str(name))
    if fn is None:
        raise ValueError(f"unknown step {name!r}; known: {', '.join(STEPS)}")
    try:
        bound = inspect.signature(fn).bind(None, None, **args)
    except TypeError as err:
        params = [p for p in list(inspect.signature(fn).parameters)[2:]]
        raise ValueError(f"step {name}: {err} (its arguments: {', '.join(params)})") from None
    bound.apply_defaults()
    return dict(list(bound.arguments.items())[2:])
