"""A profile: a company's own Kafka settings, laid under every experiment.

    kafka_version: 3.9.1
    broker_config: {num.replica.fetchers: 4}
    producer: {linger.ms: 20, compression.type: zstd}
    consumer: {fetch.min.bytes: 1024}

``kchaos run|suite --profile ours.yaml`` answers "do the guarantees we rely on hold with
our settings and our version?". The profile fills in what an experiment leaves open;
a key the experiment or a variant sets keeps its value, because the contrast the
experiment exists to show depends on it (durability's variants *are* acks settings).
Both are recorded: every value taken from the profile, and every profile key a variant
kept its own value for, so the report says exactly what was tested. The verdict does not
depend on that list.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError

from kchaos.errors import BadInput
from kchaos.experiment import Experiment, explain_error

Config = dict[str, str | int | bool]


class Profile(BaseModel):
    """What a profile file may say (all optional)."""

    model_config = ConfigDict(extra="forbid")

    name: str = ""
    kafka_version: str | None = None
    kafka_image: str | None = None
    toxiproxy_image: str | None = None
    broker_config: Config = Field(default_factory=dict)
    producer: Config = Field(default_factory=dict)
    consumer: Config = Field(default_factory=dict)
    _source: str = PrivateAttr(default="")  # the file it was read from (for "how to reproduce")

    @property
    def source(self) -> str:
        return self._source


def load(path: Path) -> Profile:
    """Read a profile; one line naming file, line and field for a mistake."""
    from kchaos import yamlsafe  # size cap, UTF-8, duplicate keys, depth and alias bounds

    node, data = yamlsafe.load(Path(path), "profile")
    if not isinstance(data, dict):
        raise BadInput(f"{path}: a profile is a mapping (kafka_version, broker_config, producer, consumer)")
    try:
        profile = Profile.model_validate(data)
    except ValidationError as err:
        raise BadInput(explain_error(Path(path), node, err.errors()[0])) from None
    if problem := _problem(profile):
        raise BadInput(f"{path}: {problem}")
    profile = profile if profile.name else profile.model_copy(update={"name": Path(path).stem})
    profile._source = str(path)
    return profile


def _problem(profile: Profile) -> str | None:
    """What the models cannot say: a version that names a folder, broker keys the cluster owns."""
    from kchaos import filechecks, safety

    if profile.kafka_version is not None and not safety.VERSION.fullmatch(profile.kafka_version):
        return f"kafka_version {safety.printable(repr(profile.kafka_version))}: a Kafka version looks like 4.4.0"
    for key, value in profile.broker_config.items():
        if problem := filechecks.broker_config_problem(key, value):
            return f"broker_config.{problem.removeprefix('broker config ')}"
    for scope in ("producer", "consumer"):
        for key, value in getattr(profile, scope).items():
            if any(ord(c) < 32 or 127 <= ord(c) < 160 for c in f"{key}{value}"):
                return f"{scope}.{safety.printable(key)}: no control characters in a client setting"
    return None


def _same(a: Any, b: Any) -> bool:
    return str(a).lower() == str(b).lower()


def apply(exp: Experiment, profile: Profile | None) -> tuple[Experiment, dict[str, Any] | None]:
    """``exp`` with the profile laid under it, and what came from where (None: no profile)."""
    if profile is None:
        return exp, None
    used: list[dict[str, Any]] = []
    kept: list[dict[str, Any]] = []
    if profile.kafka_version:
        used.append({"key": "kafka_version", "value": profile.kafka_version, "where": "cluster"})
    for key, value in profile.broker_config.items():
        mine = exp.cluster.broker_config.get(key)
        if mine is None:
            used.append({"key": f"broker.{key}", "value": value, "where": "cluster"})
        elif not _same(mine, value):
            kept.append({"key": f"broker.{key}", "profile": value, "kept": mine, "where": "experiment"})
    cluster = exp.cluster.model_copy(update={"broker_config": {**profile.broker_config, **exp.cluster.broker_config}})
    variants = []
    for v in exp.variants:
        update = {}
        for scope in ("producer", "consumer"):
            theirs: Config = getattr(profile, scope)
            mine_all: Config = getattr(v, scope)
            for key, value in theirs.items():
                if key not in mine_all:
                    used.append({"key": f"{scope}.{key}", "value": value, "where": v.name})
                elif not _same(mine_all[key], value):
                    kept.append({"key": f"{scope}.{key}", "profile": value, "kept": mine_all[key], "where": v.name})
            update[scope] = {**theirs, **mine_all}
        variants.append(v.model_copy(update=update))
    applied = exp.model_copy(update={"cluster": cluster, "variants": variants})
    return applied, {"name": profile.name, "from_profile": used, "overridden": kept}


def for_variants(provenance: dict[str, Any] | None, names: set[str]) -> dict[str, Any] | None:
    """``provenance`` kept to the variants that run (a quick run leaves nightly-only ones out)."""
    if provenance is None:
        return None
    keep = names | {"cluster", "experiment"}
    return {
        "name": provenance["name"],
        "from_profile": [u for u in provenance["from_profile"] if u["where"] in keep],
        "overridden": [k for k in provenance["overridden"] if k["where"] in keep],
    }
