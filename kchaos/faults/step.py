"""One step of a fault schedule as an experiment file writes it, checked as it loads:
the action exists (``actions``), its arguments bind (or, for ``do: step``, bind to the
named step's signature), its target parses (``targets``). What needs the whole file
(``$name`` defined earlier, topics, workload parts) is checked by the experiment loader.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from kchaos.cluster import targets
from kchaos.faults import actions, steps


class FaultStep(BaseModel):
    """One action at ``at`` seconds into the fault phase. ``as`` names the resolved node
    so a later step can say ``target: $victim``."""

    at: float = Field(0, ge=0, le=86_400, allow_inf_nan=False)  # within its phase: checked by the loader
    do: str
    target: str | int | None = None
    to: str | int | None = None
    name: str | None = Field(default=None, alias="as")
    args: dict[str, Any] = Field(default_factory=dict)

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @field_validator("do")
    @classmethod
    def known_action(cls, v: str) -> str:
        return actions.action(v).name

    @field_validator("target")
    @classmethod
    def target_grammar(cls, v: str | int | None) -> str | int | None:
        if v is not None:
            targets.parse(v)
        return v

    @model_validator(mode="after")
    def bound_args(self) -> FaultStep:
        """Arguments bound to the action (or the named step) now, not mid-run."""
        act = actions.action(self.do)
        if act.name == "step":
            steps.bind(self.args.get("name"), {k: v for k, v in self.args.items() if k != "name"})
        else:
            act.bind(self.args)
        if act.target == "pair" and self.to is None:
            raise ValueError(f"{act.name} needs 'to': the node at the other end of the link")
        if act.target in ("node", "client") and self.target is None:
            raise ValueError(f"{act.name} needs a target")
        return self
