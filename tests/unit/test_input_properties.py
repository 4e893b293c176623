"""Generated inputs on every surface a user feeds kchaos (issue 24): experiment files,
profiles, CLI arguments, ``report --compare`` folders and ``book`` folders.

Each mutation class declares what must happen: ``REFUSED`` (one line per error, exit 2
or BadInput, never accepted) or ``ACCEPTED`` (the docs allow it). Every example runs
in-process, is timed (none may take 20 s) and is classified; a traceback, a hang, a
wrong acceptance or a wrong refusal fails the test. Set ``KCHAOS_PROPERTY_REPORT`` to a
file to get the per-surface counts as JSON.
"""

from __future__ import annotations

import copy
import json
import math
import os
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kchaos.errors import BadInput

BASE = Path(__file__).parent / "data" / "property-experiment.yaml"
EXAMPLES = int(os.environ.get("KCHAOS_PROPERTY_EXAMPLES", "1000"))
LIMIT_S = 20.0
REFUSED, ACCEPTED = "refused", "accepted"
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,  # timed by the test itself, against LIMIT_S
    database=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
STATS: dict[str, Counter] = {}


_COMMAND: list[Any] = []


def _invoke(argv: list[str]) -> Any:
    """The CLI in-process, its click command built once (typer builds it per call: 0.1 s)."""
    import typer.main

    from kchaos.cli import app

    if not _COMMAND:
        _COMMAND.append(typer.main.get_command(app))
    return CliRunner().invoke(_COMMAND[0], argv)


def _record(surface: str, expected: str, outcome: str, seconds: float, case: str) -> None:
    """Count the example; fail at once on a traceback, a hang or a wrong result."""
    stats = STATS.setdefault(surface, Counter())
    stats["generated"] += 1
    if seconds > LIMIT_S:
        stats["hangs"] += 1
        raise AssertionError(f"{surface}: {case} took {seconds:.1f} s")
    if outcome == "traceback":
        stats["tracebacks"] += 1
        raise AssertionError(f"{surface}: {case} gave a traceback")
    if expected == REFUSED and outcome == ACCEPTED:
        stats["wrongly accepted"] += 1
        raise AssertionError(f"{surface}: {case} was accepted")
    if expected == ACCEPTED and outcome == REFUSED:
        stats["wrongly refused"] += 1
        raise AssertionError(f"{surface}: {case} was refused")
    stats[f"{expected} as expected"] += 1


@pytest.fixture(scope="module", autouse=True)
def report_counts():
    yield
    target = os.environ.get("KCHAOS_PROPERTY_REPORT")
    if target:
        Path(target).write_text(json.dumps({k: dict(v) for k, v in STATS.items()}, indent=1))


_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
_BASE_DATA: list[dict[str, Any]] = []


def _base() -> dict[str, Any]:
    if not _BASE_DATA:
        _BASE_DATA.append(yaml.load(BASE.read_text(), Loader=_LOADER))  # noqa: S506 (a safe loader)
    return copy.deepcopy(_BASE_DATA[0])


def _dump(data: Any) -> bytes:
    return yaml.dump(data, Dumper=_DUMPER, allow_unicode=True, sort_keys=False).encode()


# --- experiment files ---------------------------------------------------------------------------

NUMBERS_BAD = st.sampled_from([-1.0, -0.001, math.nan, math.inf, -math.inf, 1e30])
BAD_TOPIC = st.sampled_from([".", "..", "a b", "a/b", "x" * 250, "quo'te", "é", "a:b", ""])
LISTENER_KEYS = st.sampled_from(
    [
        "listeners",
        "advertised.listeners",
        "listener.security.protocol.map",
        "controller.listener.names",
        "inter.broker.listener.name",
        "listener.name.client.ssl.keystore.location",
    ]
)
GOOD_NAME = st.text("abcdefghijklmnopqrstuvwxyz0123456789._-", min_size=1, max_size=40).filter(
    lambda n: n not in (".", "..")
)


def _set(data: dict, path: tuple, value: Any) -> dict:
    node = data
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    return data


def _structured(draw) -> tuple[str, bytes, str]:
    """A mutation of the parsed base file: (class, YAML bytes, expected)."""
    data = _base()
    kind = draw(
        st.sampled_from(
            [
                "duration-bad",
                "duration-good",
                "brokers-bad",
                "brokers-good",
                "partitions-bad",
                "rf-over-brokers",
                "node-out-of-range",
                "partition-out-of-range",
                "partition-in-range",
                "at-after-phase",
                "at-bad",
                "at-good",
                "duplicate-variant",
                "duplicate-topic",
                "topic-name-bad",
                "topic-name-good",
                "id-bad",
                "listener-key",
                "config-newline",
                "feature-injection",
                "workload-number-bad",
                "step-arg-bad",
                "step-arg-type",
                "free-text-escape",
                "unknown-field",
                "wrong-type",
            ]
        )
    )
    phase = draw(st.sampled_from(["steady", "fault", "recovery"]))
    if kind == "duration-bad":
        value = draw(NUMBERS_BAD)  # a fault phase of 0 is allowed: a run without faults
        _set(data, (draw(st.sampled_from(["quick", "nightly"])), phase), value)
        return kind, _dump(data), REFUSED
    if kind == "duration-good":
        mode = draw(st.sampled_from(["quick", "nightly"]))
        low = 20.0 if mode == "nightly" and phase == "fault" else (10.0 if phase == "fault" else 0.0)
        _set(data, (mode, phase), draw(st.floats(low, 3600, allow_nan=False)))
        return kind, _dump(data), ACCEPTED
    if kind == "brokers-bad":
        data["cluster"]["brokers"] = draw(st.sampled_from([0, -1, 10, 100, 10**9, "three", 2.5, None]))
        return kind, _dump(data), REFUSED
    if kind == "brokers-good":
        data["cluster"]["brokers"] = draw(st.integers(3, 9))
        return kind, _dump(data), ACCEPTED
    if kind == "partitions-bad":
        data["topics"][draw(st.integers(0, 1))]["partitions"] = draw(st.sampled_from([0, -3, 10**6, "many"]))
        return kind, _dump(data), REFUSED
    if kind == "rf-over-brokers":
        brokers = draw(st.integers(1, 9))
        data["cluster"]["brokers"] = brokers
        data["topics"][0]["replication_factor"] = draw(st.integers(brokers + 1, brokers + 20))
        data["faults"] = []
        return kind, _dump(data), REFUSED
    if kind == "node-out-of-range":
        data["faults"][3]["target"] = draw(st.sampled_from([0, 4, 7, 99, 101]))
        return kind, _dump(data), REFUSED
    if kind == "partition-out-of-range":
        data["faults"][0]["target"] = f"leader-of:events:{draw(st.integers(3, 10_000))}"
        return kind, _dump(data), REFUSED
    if kind == "partition-in-range":
        data["faults"][0]["target"] = f"leader-of:events:{draw(st.integers(0, 2))}"
        return kind, _dump(data), ACCEPTED
    if kind == "at-after-phase":
        data["faults"][draw(st.integers(0, 3))]["at"] = draw(st.floats(10.001, 1e6, allow_nan=False))
        return kind, _dump(data), REFUSED
    if kind == "at-bad":
        data["faults"][draw(st.integers(0, 3))]["at"] = draw(st.sampled_from([-1.0, math.nan, math.inf, "soon"]))
        return kind, _dump(data), REFUSED
    if kind == "at-good":
        data["faults"][draw(st.integers(0, 3))]["at"] = draw(st.floats(0, 10, allow_nan=False))
        return kind, _dump(data), ACCEPTED
    if kind == "duplicate-variant":
        data["variants"][1]["name"] = data["variants"][0]["name"]
        return kind, _dump(data), REFUSED
    if kind == "duplicate-topic":
        data["topics"].append(copy.deepcopy(data["topics"][draw(st.integers(0, 1))]))
        return kind, _dump(data), REFUSED
    if kind == "topic-name-bad":
        name = draw(BAD_TOPIC)
        data["topics"][0]["name"] = data["workload"]["topic"] = name
        data["faults"][0]["target"] = 1
        return kind, _dump(data), REFUSED
    if kind == "topic-name-good":
        name = draw(GOOD_NAME)
        if name == "audit":
            name = "events"
        data["topics"][0]["name"] = data["workload"]["topic"] = name
        data["faults"][0]["target"] = f"leader-of:{name}:0"
        return kind, _dump(data), ACCEPTED
    if kind == "id-bad":
        data["id"] = draw(st.sampled_from(["../x", "/../../tmp/x", "a/b", "A B", "x\x1b]0;t\x07", "", "-x", "x" * 70]))
        return kind, _dump(data), REFUSED
    if kind == "listener-key":
        data["cluster"]["broker_config"][draw(LISTENER_KEYS)] = "CLIENT://0.0.0.0:9092"
        return kind, _dump(data), REFUSED
    if kind == "config-newline":
        data["cluster"]["broker_config"]["num.io.threads"] = "4" + draw(st.sampled_from(["\n", "\r", "\x00", "\\"]))
        data["cluster"]["broker_config"]["num.io.threads"] += draw(st.sampled_from(["", "listeners=x://0.0.0.0:1"]))
        return kind, _dump(data), REFUSED
    if kind == "feature-injection":
        data["cluster"]["features"] = {draw(st.sampled_from(["x=0; id", "$(id)", "a b", "`id`", "X"])): 0}
        return kind, _dump(data), REFUSED
    if kind == "workload-number-bad":
        field, value = draw(
            st.sampled_from(
                [
                    ("rate", -100),
                    ("rate", math.nan),
                    ("producers", -1),
                    ("producers", 10**6),
                    ("value_bytes", 10**10),
                    ("value_bytes", -1),
                    ("corrupt", 2.0),
                    ("corrupt", -0.5),
                    ("key_count", 0),
                ]
            )
        )
        data["workload"][field] = value
        return kind, _dump(data), REFUSED
    if kind == "step-arg-bad":
        data["faults"][1]["args"] = {
            draw(st.sampled_from(["latency_ms", "jitter_ms"])): draw(st.sampled_from([-200, 10**12]))
        }
        return kind, _dump(data), REFUSED
    if kind == "step-arg-type":
        data["faults"][2]["args"]["config"] = draw(st.sampled_from([["a"], "x", {"a": {"b": 1}}, 5]))
        return kind, _dump(data), REFUSED
    if kind == "free-text-escape":
        data["question"] = "what " + draw(st.sampled_from(["\x1b[2J", "\x1b]0;t\x07", "\x9b31m", "\u202e"])) + " now?"
        return kind, _dump(data), ACCEPTED  # free text: printed with its escapes made visible
    if kind == "unknown-field":
        data[draw(st.sampled_from(["foo", "faultz", "topic"]))] = 1
        return kind, _dump(data), REFUSED
    data["workload"]["topic"] = draw(st.sampled_from([5, ["events"], {"a": 1}, None]))
    return "wrong-type", _dump(data), REFUSED


def _textual(draw) -> tuple[str, bytes, str]:
    """A mutation of the file's bytes: encodings, sizes, nesting, aliases, duplicates."""
    text = BASE.read_bytes()
    kind = draw(
        st.sampled_from(
            [
                "duplicate-key",
                "non-utf8",
                "utf16",
                "utf32",
                "deep",
                "alias-bomb",
                "too-large",
                "binary",
                "control-char",
                "comment",
                "empty",
                "not-mapping",
                "truncated",
            ]
        )
    )
    if kind == "duplicate-key":
        key = draw(st.sampled_from(["faults: []\n", "id: other\n", "quick: {steady: 1, fault: 3, recovery: 1}\n"]))
        return kind, text + key.encode(), REFUSED
    if kind == "non-utf8":
        at = draw(st.integers(0, len(text)))
        return kind, text[:at] + draw(st.sampled_from([b"\xe9", b"\xff\xfe\xfd", b"\xc3"])) + text[at:], REFUSED
    if kind == "utf16":
        return kind, text.decode().encode(draw(st.sampled_from(["utf-16", "utf-16-le", "utf-16-be"]))), REFUSED
    if kind == "utf32":
        return kind, text.decode().encode("utf-32"), REFUSED
    if kind == "deep":
        depth = draw(st.integers(65, 5000))
        opener, closer = draw(st.sampled_from([("[", "]"), ("{a: ", "}")]))
        return kind, text + b"cite: " + opener.encode() * depth + closer.encode() * depth + b"\n", REFUSED
    if kind == "alias-bomb":
        width = draw(st.integers(8, 12))
        lines = ["a0: &a0 [" + ",".join(["x"] * width) + "]"]
        lines += [f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * width) + "]" for i in range(1, 9)]
        return kind, text + ("\n".join(lines) + "\n").encode(), REFUSED
    if kind == "too-large":
        return kind, text + b"#" + b"x" * draw(st.integers(1024 * 1024, 3 * 1024 * 1024)) + b"\n", REFUSED
    if kind == "binary":
        return kind, draw(st.binary(min_size=1, max_size=400)).replace(b"\n", b"\x00") + b"\x00\xff", REFUSED
    if kind == "control-char":
        at = draw(st.integers(0, len(text)))
        return kind, text[:at] + draw(st.sampled_from([b"\x00", b"\x07", b"\x1b", b"\x7f"])) + text[at:], REFUSED
    if kind == "comment":
        printable = st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp"), blacklist_characters="\ufeff")
        return kind, text + b"# " + draw(st.text(printable, max_size=50)).encode() + b"\n", ACCEPTED
    if kind == "empty":
        return kind, draw(st.sampled_from([b"", b"\n", b"---\n", b"# nothing\n"])), REFUSED
    if kind == "not-mapping":
        return kind, draw(st.sampled_from([b"- a\n- b\n", b"42\n", b"'text'\n", b"null\n"])), REFUSED
    # A prefix of a valid file may itself be valid (cut after a whole line): either is right,
    # as long as a refusal is one line and nothing raises.
    cut = draw(st.integers(1, len(text) - 1))
    return "truncated", text[:cut], "either"


@st.composite
def experiment_files(draw) -> tuple[str, bytes, str]:
    return _structured(draw) if draw(st.booleans()) else _textual(draw)


@SETTINGS
@given(case=experiment_files())
def test_generated_experiment_files(tmp_path_factory, case):
    from kchaos import experiment as experiments
    from kchaos.safety import printable

    kind, content, expected = case
    path = tmp_path_factory.getbasetemp() / "mutated.yaml"
    path.write_bytes(content)
    started = time.monotonic()
    try:
        exp, errors = experiments.check(path)
        if not errors:
            plan = printable(experiments.plan(exp))
            assert "\x1b" not in plan and "\x07" not in plan
        outcome = REFUSED if errors else ACCEPTED
    except Exception:  # noqa: BLE001  (counted, then reported by _record)
        outcome, errors = "traceback", []
    seconds = time.monotonic() - started
    for line in errors:
        assert "\n" not in line and line.startswith(str(path)), f"{kind}: {line!r}"
    if expected == "either":
        expected = outcome if outcome != "traceback" else REFUSED
    _record("experiment files", expected, outcome, seconds, kind)


# --- profiles ---------------------------------------------------------------------------------


@st.composite
def profiles(draw) -> tuple[str, bytes, str]:
    good = {
        "kafka_version": "3.9.1",
        "broker_config": {"num.replica.fetchers": 4},
        "producer": {"linger.ms": 20},
        "consumer": {},
    }
    kind = draw(
        st.sampled_from(
            ["good", "version-bad", "listener", "newline", "unknown", "not-mapping", "duplicate", "encoding", "deep"]
        )
    )
    data = copy.deepcopy(good)
    if kind == "good":
        major, minor, patch = draw(st.integers(3, 4)), draw(st.integers(0, 99)), draw(st.integers(0, 9))
        data["kafka_version"] = f"{major}.{minor}.{patch}"
        data["consumer"] = {
            ".".join(draw(st.lists(st.text("abcdefghij", min_size=1, max_size=8), min_size=1, max_size=4))): draw(
                st.integers()
            )
        }
        return kind, _dump(data), ACCEPTED
    if kind == "version-bad":
        data["kafka_version"] = draw(st.sampled_from(["../x", "4.4.0/../../x", "", "latest", "4", "4.4.0;rm"]))
        return kind, _dump(data), REFUSED
    if kind == "listener":
        data["broker_config"][draw(LISTENER_KEYS)] = "CLIENT://0.0.0.0:1"
        return kind, _dump(data), REFUSED
    if kind == "newline":
        scope = draw(st.sampled_from(["broker_config", "producer", "consumer"]))
        data[scope]["x.y"] = "a" + draw(st.sampled_from(["\n", "\r", "\x1b", "\x00"])) + "b"
        return kind, _dump(data), REFUSED
    if kind == "unknown":
        data[draw(st.sampled_from(["brokers", "kafka", "zz"]))] = 1
        return kind, _dump(data), REFUSED
    if kind == "not-mapping":
        return kind, draw(st.sampled_from([b"- 1\n", b"3\n", b"", b"~\n"])), REFUSED
    if kind == "duplicate":
        return kind, _dump(data) + b"kafka_version: 4.4.0\n", REFUSED
    if kind == "encoding":
        return kind, _dump(data).decode().encode(draw(st.sampled_from(["utf-16", "utf-32"]))), REFUSED
    return kind, b"producer: " + b"[" * draw(st.integers(65, 3000)) + b"\n", REFUSED


@SETTINGS
@given(case=profiles())
def test_generated_profiles(tmp_path_factory, case):
    from kchaos import profile

    kind, content, expected = case
    path = tmp_path_factory.getbasetemp() / "profile.yaml"
    path.write_bytes(content)
    started = time.monotonic()
    try:
        profile.load(path)
        outcome = ACCEPTED
    except BadInput as err:
        outcome = REFUSED
        assert "\n" not in str(err), f"{kind}: {err}"
    except Exception:  # noqa: BLE001
        outcome = "traceback"
    _record("profiles", expected, outcome, time.monotonic() - started, kind)


# --- CLI arguments ----------------------------------------------------------------------------

BAD_CLUSTER = st.sampled_from(["../../victim", "/", "..", "a/b", "UP", "x" * 60, "-x", "a b", "\x1b[2J", "é"])


@pytest.fixture(scope="module")
def cli_sandbox(tmp_path_factory):
    """An empty KCHAOS_HOME, special files to point at, and no Docker daemon."""
    import kchaos.cluster.docker.images as images

    root = tmp_path_factory.mktemp("cli")
    fifo = root / "fifo"
    os.mkfifo(fifo)
    (root / "binary.yaml").write_bytes(bytes(range(256)) * 4)
    (root / "folder").mkdir()
    (root / "victim").mkdir()
    (root / "victim" / "precious").write_text("keep")
    old = os.environ.get("KCHAOS_HOME")
    os.environ["KCHAOS_HOME"] = str(root / "home" / "a")
    real = images.docker_client
    images.docker_client = _no_docker
    yield root
    images.docker_client = real
    if old is None:
        os.environ.pop("KCHAOS_HOME", None)
    else:
        os.environ["KCHAOS_HOME"] = old
    assert (root / "victim" / "precious").exists(), "a CLI call removed a folder outside KCHAOS_HOME"


def _no_docker():
    raise RuntimeError("no Docker in unit tests")


@st.composite
def cli_calls(draw) -> tuple[str, list[str], str]:
    path = draw(st.sampled_from(["fifo", "/dev/zero", "binary.yaml", "folder", "missing.yaml", "/dev/null"]))
    kind = draw(
        st.sampled_from(
            [
                "validate-special",
                "check-special",
                "down-bad-name",
                "status-bad-name",
                "fault-bad-name",
                "fault-missing-cluster",
                "run-bad-cluster",
                "demo-bad-minutes",
                "demo-good-minutes",
                "install-bad-version",
                "down-good-name",
                "up-bad-config",
            ]
        )
    )
    if kind == "validate-special":
        return kind, ["validate", path], REFUSED
    if kind == "check-special":
        return kind, ["check", path], REFUSED
    if kind == "down-bad-name":
        return kind, ["down", "--cluster", draw(BAD_CLUSTER)], REFUSED
    if kind == "down-good-name":
        name = draw(st.text("abcxyz019", min_size=1, max_size=1)) + draw(st.text("abcxyz019_-", max_size=40))
        return kind, ["down", "--cluster", name], ACCEPTED
    if kind == "status-bad-name":
        return kind, ["status", "--cluster", draw(BAD_CLUSTER)], REFUSED
    if kind in ("fault-bad-name", "fault-missing-cluster"):
        action = draw(st.sampled_from(["kill", "pause", "resume", "stop", "start", "isolate", "heal"]))
        name = draw(BAD_CLUSTER) if kind == "fault-bad-name" else "nosuch"
        target = [] if action == "heal" else [str(draw(st.integers(-5, 200)))]
        return kind, ["fault", action, *target, "--cluster", name], REFUSED
    if kind == "run-bad-cluster":
        return kind, ["run", str(BASE), "--cluster", draw(BAD_CLUSTER), "--no-live"], REFUSED
    if kind == "demo-bad-minutes":
        return kind, ["demo", "--minutes", draw(st.sampled_from(["-5", "nan", "inf", "0", "1e9", "x"]))], REFUSED
    if kind == "demo-good-minutes":
        return kind, ["demo", "--minutes", str(draw(st.integers(1, 600)))], ACCEPTED
    if kind == "install-bad-version":
        # Only versions refused before any download or Maven call (a valid one would fetch).
        version = draw(st.sampled_from(["../x", "...", "/", "4.4.0/../..", "", "4.4.0;id", "x" * 300]))
        return (
            kind,
            ["install", "--kafka-version", version, "--from", draw(st.sampled_from(["build", "release"]))],
            REFUSED,
        )
    key = draw(st.sampled_from(["listeners", "advertised.listeners", "a\nb", "log.dirs"]))
    return kind, ["up", "--backend", "local", "--config", f"{key}=x"], REFUSED


@SETTINGS
@given(case=cli_calls())
def test_generated_cli_arguments(cli_sandbox, case):
    kind, argv, expected = case
    argv = [str(cli_sandbox / a) if a in ("fifo", "binary.yaml", "folder", "missing.yaml") else a for a in argv]
    started = time.monotonic()
    result = _invoke(argv)
    seconds = time.monotonic() - started
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        outcome = "traceback"
    elif result.exit_code == 0:
        outcome = ACCEPTED
    else:
        outcome = REFUSED
        assert result.exit_code == 2, f"{kind} {argv}: exit {result.exit_code}: {result.output}"
        assert "Traceback" not in result.output and "\x1b" not in result.output, f"{kind} {argv}: {result.output!r}"
    _record("CLI arguments", expected, outcome, seconds, f"{kind} {argv}")


# --- report --compare and book folders ------------------------------------------------------------


NOISE = st.fixed_dictionaries(
    {
        "variant": st.text(min_size=1, max_size=20),
        "measurements": st.dictionaries(st.text(max_size=12), st.floats(allow_nan=False) | st.integers(), max_size=4),
    }
)


def _varied(draw, exp: str = "durability") -> dict[str, Any]:
    """A valid run summary with generated variant names and measurements."""
    data = _run_summary(exp)
    noise = draw(NOISE)
    data["variants"][0]["name"] = noise["variant"]
    data["variants"][0]["measurements"] = noise["measurements"]
    return data


def _run_summary(exp: str = "durability") -> dict[str, Any]:
    return {
        "experiment": exp,
        "verdict": "PASS",
        "mode": "quick",
        "started_utc": "2026-12-01T10:00:00Z",
        "kafka_version": "4.4.0",
        "backend": "local",
        "variants": [
            {
                "name": "acks=all",
                "expectations": [{"what": "lost == 0", "held": True, "value": 0}],
                "anomalies": {"lost": 0},
                "measurements": {"sends_ok": 100},
            }
        ],
    }


def _malformed(draw) -> tuple[str, Any]:
    """(class, content of summary.json) that is not a summary kchaos wrote."""
    kind = draw(
        st.sampled_from(
            [
                "list",
                "empty-object",
                "string",
                "suite-without-experiments",
                "variants-wrong",
                "missing-verdict",
                "non-utf8",
                "deep",
                "expectations-wrong",
            ]
        )
    )
    good = _run_summary()
    content: Any = {
        "list": [],
        "empty-object": {},
        "string": "run",
        "suite-without-experiments": {"suite": True},
        "variants-wrong": {**good, "variants": draw(st.sampled_from([5, "x", [1], [{"name": 1}]]))},
        "missing-verdict": {k: v for k, v in good.items() if k != "verdict"},
        "non-utf8": b'{"experiment": "caf\xe9"}',
        "deep": b"[" * 100_000 + b"]" * 100_000,
        "expectations-wrong": {**good, "variants": [{**good["variants"][0], "expectations": [{"x": 1}]}]},
    }[kind]
    return kind, content


def _write(folder: Path, content: Any) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    data = content if isinstance(content, bytes) else json.dumps(content).encode()
    (folder / "summary.json").write_bytes(data)
    (folder / "report.md").write_text("# r\n\n## Answer\n\nIt holds.\n")


@st.composite
def compare_folders(draw) -> tuple[str, Any, Any, str]:
    shape = draw(st.sampled_from(["good-runs", "good-suite", "malformed", "escaping-suite", "missing", "out-dir"]))
    if shape == "good-runs":
        return shape, _varied(draw), _varied(draw), ACCEPTED
    if shape == "good-suite":
        return shape, "suite", _varied(draw), ACCEPTED
    if shape == "escaping-suite":
        return (
            shape,
            {
                "suite": True,
                "experiments": [
                    {
                        "experiment": "x",
                        "report": draw(
                            st.sampled_from(["../../etc/report.md", "/etc/report.md", "../other/report.md"])
                        ),
                    }
                ],
            },
            _run_summary(),
            REFUSED,
        )
    if shape in ("missing", "out-dir"):
        return shape, None, _varied(draw), REFUSED
    kind, content = _malformed(draw)
    if kind == "missing-verdict":
        return f"malformed-{kind}", content, content, REFUSED
    return f"malformed-{kind}", content, _varied(draw), REFUSED


@SETTINGS
@given(case=compare_folders())
def test_generated_report_compare_folders(tmp_path_factory, case):
    shape, a_content, b_content, expected = case
    root = Path(tmp_path_factory.mktemp("cmp", numbered=True))
    a, b = root / "a", root / "b"
    if shape == "good-suite":
        _write(a / "run-1", _run_summary())
        _write(a, {"suite": True, "experiments": [{"experiment": "durability", "report": "run-1/report.md"}]})
    elif a_content is not None:
        _write(a, a_content)
    _write(b, b_content)
    out = a if shape == "out-dir" else root / "cmp.md"
    started = time.monotonic()
    result = _invoke(["report", "--compare", str(a), str(b), "--out", str(out)])
    seconds = time.monotonic() - started
    outcome = _outcome(result)
    _record("report --compare folders", expected, outcome, seconds, shape)


def _outcome(result) -> str:
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        return "traceback"
    if result.exit_code == 0:
        return ACCEPTED
    assert result.exit_code == 2 and len(result.output.strip().splitlines()) == 1, result.output
    return REFUSED


@st.composite
def book_folders(draw) -> tuple[str, list[tuple[str, Any]], str]:
    shape = draw(st.sampled_from(["good", "good-several", "not-json", "malformed", "missing-folder"]))
    if shape == "good":
        return shape, [("r1", _varied(draw))], ACCEPTED
    if shape == "good-several":
        ids = draw(
            st.lists(st.sampled_from(["durability", "isr", "why-fast", "not-in-catalog"]), min_size=1, max_size=4)
        )
        return shape, [(f"r{i}", _varied(draw, e)) for i, e in enumerate(ids)], ACCEPTED
    if shape == "not-json":  # a half-written summary is skipped (book.py skips what is not JSON)
        junk = draw(st.text("abc xyz:,.0123", max_size=40)).encode()
        return shape, [("r1", _varied(draw)), ("r2", b"{not json" + junk)], ACCEPTED
    if shape == "missing-folder":
        return shape, [], REFUSED
    kind, content = _malformed(draw)
    if kind == "empty-object":
        content = {"experiment": "durability", "mode": "quick"}
    # A suite's own summary is not a run: the book skips it.
    skipped = kind == "suite-without-experiments"
    return f"malformed-{kind}", [("r1", content)], ACCEPTED if skipped else REFUSED


@pytest.fixture(scope="module")
def fixed_catalog():
    """The book's questions fixed here: this surface is about the folders, not the files."""
    from kchaos.report import book

    with pytest.MonkeyPatch.context() as mp:
        if hasattr(book, "questions"):
            rows = (("1.5", "What is the ISR?", "isr"), ("2.4", "What do acks guarantee?", "durability"))
            mp.setattr(book, "questions", lambda: rows)
        yield


@SETTINGS
@given(case=book_folders())
def test_generated_book_folders(tmp_path_factory, fixed_catalog, case):
    shape, runs, expected = case
    root = Path(tmp_path_factory.mktemp("book", numbered=True))
    reports = root / "reports"
    if shape != "missing-folder":
        reports.mkdir()
    for name, content in runs:
        _write(reports / name, content)
    started = time.monotonic()
    result = _invoke(["book", "--report-dir", str(reports), "--results", str(root / "none")])
    seconds = time.monotonic() - started
    _record("book folders", expected, _outcome(result), seconds, shape)


def test_every_surface_ran_its_examples():
    """Runs last in this file: every surface generated what it was asked to."""
    for surface in ("experiment files", "profiles", "CLI arguments", "report --compare folders", "book folders"):
        if surface in STATS:
            assert STATS[surface]["generated"] >= EXAMPLES, (surface, dict(STATS[surface]))
