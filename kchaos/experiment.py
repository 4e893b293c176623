"""Experiment files: YAML, validated into typed records, with errors that name file,
line and field. The names of ``kchaos.spec`` in one place, for the modules that say
``from kchaos import experiment as experiments``: the model (``spec.model``), a variant
resolved (``spec.resolve``), whole-file checks (``spec.validate``) and the catalog
(``spec.catalog``).
"""

from __future__ import annotations

from kchaos.paths import EXPERIMENTS_DIR, schema_file
from kchaos.spec.catalog import (
    catalog,
    check,
    explain_error,
    find,
    load,
    number_key,
    plan,
)
from kchaos.spec.model import (
    COMPATIBILITY,
    VARIANT_WORKLOAD,
    Claim,
    ClusterNeeds,
    ConsumerGroups,
    Durations,
    Experiment,
    HandlerSpec,
    PatternSpec,
    PipelineSpec,
    SchemaSpec,
    Strict,
    Topic,
    Variant,
    Workload,
    variant_id,
)
from kchaos.spec.resolve import (
    ResolvedVariant,
    capabilities,
    group_spec,
    needed_features,
    number,
    only_variants,
    pattern_spec,
    pipeline_spec,
    resolve,
    schedule,
    schema_spec,
    settings,
    workload_of,
)
from kchaos.spec.validate import (
    CLASSIC_ONLY,
    NUMBER_OR_COMPARISON,
    claim_problems,
    problems,
)

__all__ = [
    "ResolvedVariant",
    "resolve",
    "CLASSIC_ONLY",
    "COMPATIBILITY",
    "Claim",
    "ClusterNeeds",
    "ConsumerGroups",
    "Durations",
    "EXPERIMENTS_DIR",
    "Experiment",
    "HandlerSpec",
    "NUMBER_OR_COMPARISON",
    "PatternSpec",
    "PipelineSpec",
    "SchemaSpec",
    "Strict",
    "Topic",
    "VARIANT_WORKLOAD",
    "Variant",
    "Workload",
    "capabilities",
    "catalog",
    "check",
    "claim_problems",
    "explain_error",
    "find",
    "group_spec",
    "load",
    "needed_features",
    "number",
    "number_key",
    "only_variants",
    "pattern_spec",
    "pipeline_spec",
    "plan",
    "problems",
    "schedule",
    "schema_file",
    "schema_spec",
    "settings",
    "variant_id",
    "workload_of",
]
