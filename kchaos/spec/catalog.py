"""Finding, loading and describing experiment files: the shipped catalog by id (with the
closest names for a typo), ``load``/``check`` with errors that name file, line and
field, and ``plan``, the resolved plan ``kchaos validate`` prints."""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from kchaos import claims
from kchaos.errors import BadInput
from kchaos.faults import actions, steps
from kchaos.paths import EXPERIMENTS_DIR
from kchaos.spec.model import Experiment
from kchaos.spec.resolve import ResolvedVariant, resolve
from kchaos.spec.validate import problems


def _line_of(node: yaml.Node | None, loc: tuple[Any, ...]) -> int | None:
    """Walk a composed YAML node along a pydantic error location to its line (1-based)."""
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            match = next((v for k, v in node.value if k.value == part), None)
            if match is None:
                key = next((k for k, _ in node.value if k.value == part), None)
                return key.start_mark.line + 1 if key is not None else line
            node = match
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
        else:
            break
        line = node.start_mark.line + 1
    return line


def load(path: Path) -> Experiment:
    """Read and validate one experiment file; a ``BadInput`` names file, line and field
    of the first mistake (``check`` lists them all)."""
    exp, errors = check(path)
    if errors:
        raise BadInput(errors[0])
    return exp  # type: ignore[return-value]


def check(path: Path) -> tuple[Experiment | None, list[str]]:
    """The experiment, or every mistake in the file, one line each (``file:line: field: what``)."""
    from kchaos import yamlsafe  # size cap, UTF-8, duplicate keys, depth and alias bounds

    try:
        node, data = yamlsafe.load(path, "experiment file")
    except BadInput as err:
        return None, [str(err)]
    if not isinstance(data, dict):
        return None, [f"{path}: an experiment is a mapping (id, question, topics, workload, variants)"]
    try:
        exp = Experiment.model_validate(data)
    except ValidationError as err:
        return None, [explain_error(path, node, e) for e in err.errors()]
    from kchaos.filechecks import schema_path_problems  # before any schema file is opened

    found = list(schema_path_problems(path, exp)) or list(problems(exp))
    return exp, [f"{path}:{_line_of(node, loc)}: {'.'.join(map(str, loc))}: {msg}" for loc, msg in found]


def explain_error(path: Path, node: yaml.Node | None, error: Any) -> str:
    loc = tuple(p for p in error["loc"] if not (isinstance(p, str) and p.startswith("function-after")))
    field = ".".join(str(p) for p in loc) or "(top level)"
    msg = error["msg"].removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        msg = f"unknown field {loc[-1]!r}"
    elif error["type"] == "missing":
        msg = "required field is missing"
    return f"{path}:{_line_of(node, loc)}: {field}: {msg}"


def number_key(number: str | None) -> tuple[int, ...]:
    """Sort key of an article number (``"2.10"`` after ``"2.9"``); unnumbered ones last."""
    if not number:
        return (10**6,)
    return tuple(int(part) if part.isdigit() else 10**6 for part in number.split("."))


def plan(exp: Experiment) -> str:
    """The resolved plan of an experiment, as ``kchaos validate`` prints it: phases,
    fault steps in time order with every argument (defaults filled in), variants, claims."""
    lines = [f"{exp.id}: {(exp.number + ' ') if exp.number else ''}{exp.question}"]
    for mode in ("quick", "nightly"):
        d = getattr(exp, mode)
        lines.append(
            f"  {mode}: steady {d.steady:g} s -> fault {d.fault:g} s -> heal -> recovery {d.recovery:g} s -> drain"
        )
    for step in sorted(exp.faults, key=lambda f: f.at):
        act = actions.action(step.do)
        if act.name == "step":
            args = {
                "name": step.args.get("name"),
                **steps.bind(step.args.get("name"), {k: v for k, v in step.args.items() if k != "name"}),
            }
        else:
            args = act.bind(step.args)
        where = f" {step.target}" + (f" -> {step.to}" if step.to is not None else "") if step.target is not None else ""
        named = f" as {step.name}" if step.name else ""
        shown = ", ".join(f"{k}={v}" for k, v in args.items())
        lines.append(f"  fault +{step.at:g} s: {act.name}{where}{named}" + (f" ({shown})" if shown else ""))
    for v in exp.variants:
        extra = (" (nightly only)" if v.nightly_only else "") + (
            f" (needs {', '.join(v.requires)})" if v.requires else ""
        )
        lines.append(f"  variant {v.id} {v.name!r}{extra}: {len(v.expect)} expectations: {'; '.join(v.expect)}")
        rv = resolve(exp, v)
        lines.append(f"    roles: {roles_of(rv)}")
        stated = {scope: kv for scope, kv in stated_settings(rv).items() if kv}
        if stated:
            lines.append("    settings: " + "; ".join(f"{scope} {_settings(kv)}" for scope, kv in stated.items()))
        if v.faults is not None:
            own = ", ".join(f"+{s.at:g} s {s.do} {s.target if s.target is not None else ''}".strip() for s in v.faults)
            lines.append(f"    its own faults: {own or 'none'}")
    nightly = {v.id for v in exp.variants if v.nightly_only}
    for i, c in enumerate(exp.claims, 1):
        named = {r.bound(c.variant).variant for r in claims.parse(c.holds).refs()}
        when = " (nightly only)" if named & nightly else ""
        lines.append(f"  claim {i}{when}: {c.holds}" + (f" -- {c.say}" if c.say else ""))
    return "\n".join(lines)


def roles_of(rv: ResolvedVariant) -> str:
    """The roles a variant runs, in one line: what its producers write, and who reads."""
    wl = rv.workload
    out = [f"{wl.producers} producer(s) at {wl.rate:g}/s, keys {wl.keys}"]
    if wl.java_producers:
        out.append(f"{wl.java_producers} Java producer(s)")
    if rv.groups is not None:
        g = rv.groups
        java = f" + {g.java_members} Java" if g.java_members else ""
        standby = f" + {g.standby} standby" if g.standby else ""
        where = " in processes" if g.process else ""
        out.append(f"{g.groups} group(s) x {g.members}{java}{standby} member(s){where}, commit {g.commit}")
    if rv.pipeline is not None:
        out.append(f"pipeline: {rv.pipeline.workers} worker(s), {rv.pipeline.mode}")
    if rv.pattern is not None:
        kind = "share group" if rv.pattern.share else f"retry {rv.pattern.retry}"
        out.append(f"pattern: {rv.pattern.workers} worker(s), {kind}")
    if rv.schemas is not None:
        out.append(f"schemas: {len(rv.schemas.versions)} version(s), {len(rv.schemas.readers)} reader(s)")
    return "; ".join(out)


def stated_settings(rv: ResolvedVariant) -> dict[str, dict[str, Any]]:
    """The settings the file states for a variant, by what they set: the brokers, the
    workload's topic, the workload's producers, the consumers, and a pipeline's or a
    pattern's own producer."""
    workers = rv.pipeline or rv.pattern
    return {
        "broker": rv.settings["broker"],
        "topic": rv.settings["topic"],
        "producer": dict(rv.variant.producer),
        "consumer": rv.settings["consumer"],
        "workers' producer": dict(workers.producer) if workers is not None else {},
    }


def _settings(kv: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in kv.items())


def catalog() -> dict[str, Path]:
    """Every experiment shipped in ``experiments/``, by id (the file's stem)."""
    return {p.stem: p for p in sorted(EXPERIMENTS_DIR.glob("*.yaml"))}


def find(ref: str) -> Path:
    """An experiment by id or by path; an unknown id gets the closest names."""
    path = Path(ref)
    if ref.endswith((".yaml", ".yml")) or path.exists():
        if not path.exists():
            raise BadInput(f"{ref}: no such experiment file")
        return path
    known = catalog()
    if ref in known:
        return known[ref]
    close = difflib.get_close_matches(ref, list(known), n=3, cutoff=0.4)
    hint = f"; did you mean {', '.join(close)}?" if close else f"; known: {', '.join(known)}"
    raise BadInput(f"unknown experiment {ref!r}{hint} (kchaos list shows all)")
