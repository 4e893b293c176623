"""A variant's workload roles, built from its resolved spec: the recording producers
(Python, Java, or the schema workload's evolving one), the consumer groups' members, the
pipeline workers, the pattern workers and the schema readers, each under the target name
a fault step uses (``consumer:G:M``, ``pipeline:M``, ``pattern:M``, ``reader:NAME``).

One module per kind of role; ``MEMBER_BUILDERS`` lists the reading ones in the order the
runner starts them, so a new kind of role is one module and one line there. The runner
starts, faults and stops what this builds; the ids of the consumer groups come from one
function (``group_ids``), which the history's ``meta`` records.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from kchaos.experiment import PatternSpec
from kchaos.roles import groups, patterns, pipelines, producers, schemas
from kchaos.roles.scope import (
    GROUP_WAIT_S,
    Member,
    Producer,
    RunScope,
    VariantContext,
    VariantRoles,
    group_ids,
    group_topics,
)

__all__ = [
    "GROUP_WAIT_S",
    "MEMBER_BUILDERS",
    "Member",
    "Producer",
    "Roles",
    "RunScope",
    "VariantContext",
    "VariantRoles",
    "group_ids",
    "group_topics",
]

#: The builders of a variant's reading roles (target name -> client), in start order.
MEMBER_BUILDERS: tuple[Callable[[RunScope, VariantContext], Mapping[str, Member]], ...] = (
    groups.members,
    pipelines.workers,
    patterns.workers,
    schemas.readers,
)


class Roles(RunScope):
    """Builds the roles of each variant of one experiment run on one cluster."""

    def build(self, ctx: VariantContext) -> VariantRoles:
        """Every role of one variant, in the order the runner starts them."""
        built = VariantRoles(producers.python_producers(self, ctx), producers.java_producers(self, ctx))
        for build in MEMBER_BUILDERS:
            built.members |= build(self, ctx)
        built.standby = groups.standby(self.exp, built.members)
        return built

    def pattern_topology(
        self, groups: dict[str, str], spec: PatternSpec | None, names: dict[str, str]
    ) -> dict[str, Any] | None:
        """What the history must say of a pattern for its check (``patterns.topology``)."""
        return patterns.topology(self.exp, groups, spec, names)
