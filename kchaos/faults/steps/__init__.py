"""Named steps: what data alone cannot say (inspect segment files, change a topic's
configs or partitions mid-run). An experiment runs one with ``do: step, args: {name: NAME, ...}``.

Each step is a function ``(ctx, **args)``: ``ctx`` is the run as a step sees it
(``kchaos.faults.context.StepContext``: cluster, history, topic names, workload clients,
target resolution, the fault recorder); its other parameters are its arguments, bound
and checked when the experiment file loads. Steps are registered here,
explicitly: adding one is a function in this package and a line in ``STEPS``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from kchaos.faults.steps import broker, deploy, log, misfits, perf, topic

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
        bound = inspect.signature(fn).bind(None, **args)
    except TypeError as err:
        params = list(inspect.signature(fn).parameters)[1:]
        raise ValueError(f"step {name}: {err} (its arguments: {', '.join(params)})") from None
    bound.apply_defaults()
    args = dict(list(bound.arguments.items())[1:])
    params = inspect.signature(fn).parameters  # annotations are strings (postponed evaluation)
    for key, value in args.items():
        if problem := _type_problem(_SIMPLE.get(str(params[key].annotation), params[key].annotation), value):
            raise ValueError(f"step {name}: {key}: {problem}")
    return args


#: Bounds of a step's numbers (counts, sizes, seconds): a negative or absurd one is a typo.
MAX_NUMBER = 100_000_000
#: A step's config mapping: a handful of Kafka settings.
MAX_CONFIG = 100


_SIMPLE: dict[str, Any] = {"int": int, "float": float, "str": str, "bool": bool, "dict[str, Any]": dict[str, Any]}


def _type_problem(annotation: Any, value: Any) -> str | None:
    """Why ``value`` does not fit a step parameter's annotation (None when it does):
    step arguments are bound by name when a file loads, so their types are checked here."""
    import math

    if annotation is bool:
        return None if isinstance(value, bool) else f"expected true or false, got {value!r}"
    if annotation in (int, float):
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if not number or (annotation is int and not isinstance(value, int)):
            return f"expected {annotation.__name__}, got {value!r}"
        if not math.isfinite(value) or not 0 <= value <= MAX_NUMBER:
            return f"{value!r} is out of range (0 to {MAX_NUMBER})"
        return None
    if annotation is str:
        return None if isinstance(value, str) and len(value) <= 249 else f"expected a name, got {str(value)[:40]!r}"
    if getattr(annotation, "__origin__", None) is dict:
        if not isinstance(value, dict) or len(value) > MAX_CONFIG:
            return f"expected a mapping of at most {MAX_CONFIG} settings"
        scalar = (str, int, float, bool)
        if not all(isinstance(k, str) and isinstance(v, scalar) for k, v in value.items()):
            return "expected setting: value pairs (a name and a string, number or boolean)"
    return None
