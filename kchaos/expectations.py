"""Judging claims after a run: a variant's expectations (``"lost == 0"``) and the
experiment's claims across variants (``"revoked@coop < revoked@eager"``).

Parsed and checked when the experiment file loads (``kchaos.claims``,
``experiment.claim_problems``: known names, variants that can measure them, never one
that could not fail); evaluated here, one evaluator for both.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kchaos import claims
from kchaos.checker.anomalies import KINDS
from kchaos.experiment import Claim, number


def lookup(name: str, anomalies: dict[str, int], measurements: dict[str, Any]) -> Any:
    if name in KINDS:
        return anomalies.get(name)
    value: Any = measurements
    for part in name.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def values_of(variants: dict[str, Any], own: str | None = None) -> Callable[[claims.Ref], Any]:
    """A reference's value among variant results (``id`` -> an object with anomalies,
    measurements and settings); None when the variant did not run or made no such measure."""

    def value(ref: claims.Ref) -> Any:
        ref = ref.bound(own)
        v = variants.get(ref.variant or "")
        if v is None:
            return None
        if ref.is_setting:
            return number(v.settings.get(ref.scope, {}).get(ref.name))
        return lookup(ref.name, v.anomalies, v.measurements)

    return value


def evaluate(text: str, variant: Any) -> dict[str, Any]:
    """A variant's expectation against its own numbers -> ``{"what", "held", "value"}``
    (``value``: the measured side, or every name's value when several are compared)."""
    cond = claims.parse(text)
    judged = claims.evaluate(cond, values_of({variant.id: variant}, variant.id))
    quoted = judged["values"]
    shown = next(iter(quoted.values())) if len(quoted) == 1 else quoted
    return {"what": text, "held": judged["held"], "value": shown}


def judge(
    claim: Claim, ran: dict[str, Any], nightly_only: set[str], unavailable: dict[str, str] | None = None
) -> dict[str, Any]:
    """One claim of the experiment against the variants that ran: ``held`` True/False,
    or None with ``skipped`` when a variant it names did not run (nightly only, left out
    by ``--variant``, or ``unavailable``: a Kafka feature it needs is missing, by id)."""
    cond = claims.parse(claim.holds)
    named = sorted({r.bound(claim.variant).variant or "" for r in cond.refs()})
    out: dict[str, Any] = {"say": claim.say, "holds": claim.holds, "variants": named}
    missing = [n for n in named if n not in ran]
    if missing:
        unavailable = unavailable or {}
        why = "; ".join(
            f"{n}: {unavailable.get(n) or ('nightly only' if n in nightly_only else 'not run')}" for n in missing
        )
        return {**out, "held": None, "skipped": why, "text": claim.say, "values": {}}
    value = values_of(ran, claim.variant)
    judged = claims.evaluate(cond, value)
    text = claims.render(claim.say, value, claim.variant) if claim.say else ""
    return {**out, "held": judged["held"], "text": text, "values": judged["values"]}
