"""What an experiment file, a profile or a flag may not do: open listeners beyond
loopback, add lines to server.properties, run shell commands through features, read
arbitrary files as schemas, write terminal escapes, borrow another job's cluster
(issue 24: S4, S10, S11, S12)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from kchaos import experiment as experiments
from kchaos.cluster.spec import ClusterSpec
from kchaos.errors import BadInput

MINIMAL = Path(__file__).parent / "data" / "minimal-experiment.yaml"


def _file(tmp_path: Path, change) -> Path:
    data = yaml.safe_load(MINIMAL.read_text())
    change(data)
    path = tmp_path / "e.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    return path


def _errors(tmp_path: Path, change) -> list[str]:
    _, errors = experiments.check(_file(tmp_path, change))
    return errors


@pytest.mark.parametrize(
    "config",
    [
        {"listeners": "CLIENT://0.0.0.0:9092"},
        {"advertised.listeners": "CLIENT://evil:9092"},
        {"listener.security.protocol.map": "CLIENT:PLAINTEXT"},
        {"controller.listener.names": "X"},
        {"inter.broker.listener.name": "CLIENT"},
        {"listener.name.client.ssl.keystore.location": "/x"},
        {"log.dirs": "/etc"},
        {"num.io.threads": "4\nlisteners=CLIENT://0.0.0.0:1"},
        {"num.io.threads": "4\\"},
        {"a=b": 1},
        {"x\ny": 1},
        {"#comment": 1},
    ],
)
def test_broker_config_cannot_touch_listeners_or_add_lines(tmp_path, config):
    errors = _errors(tmp_path, lambda d: d["cluster"].update(broker_config=config))
    assert errors and "broker_config" in errors[0], errors
    with pytest.raises(BadInput):
        ClusterSpec(broker_config=config)  # kchaos up --config and the API too


def test_a_variants_broker_config_cannot_touch_listeners(tmp_path):
    errors = _errors(tmp_path, lambda d: d["variants"][0].update(broker_config={"listeners": "x"}))
    assert errors and "listeners" in errors[0], errors


@pytest.mark.parametrize("name", ["x=0; id > /tmp/pwned", "a b", "$(id)", "Feature", "`id`"])
def test_a_feature_name_cannot_carry_shell(tmp_path, name):
    errors = _errors(tmp_path, lambda d: d["cluster"].update(features={name: 0}))
    assert errors and "feature" in errors[0], errors
    with pytest.raises(BadInput):
        ClusterSpec(features={name: 0})


def test_features_reach_the_container_as_arguments_not_script_text():
    from kchaos.cluster.docker import node_command

    spec = ClusterSpec(features={"eligible.leader.replicas.version": 0})
    object.__setattr__(spec, "features", {"x=0; touch /tmp/pwned #": 0})  # past every check
    cmd = node_command(spec, spec.nodes[0], "abc")
    assert "pwned" not in cmd[2] and cmd[:2] == ["sh", "-c"]
    assert cmd[3:] == ["kchaos-node", "--feature", "x=0; touch /tmp/pwned #=0"]


def test_a_good_feature_and_broker_config_are_accepted(tmp_path):
    def change(d):
        d["cluster"].update(features={"eligible.leader.replicas.version": 0}, broker_config={"num.io.threads": 4})

    assert _errors(tmp_path, change) == []


def test_a_schema_path_cannot_name_any_file(tmp_path, monkeypatch):
    secret = tmp_path / "elsewhere" / "config.json"
    secret.parent.mkdir()
    secret.write_text(json.dumps({"auths": {"registry": {"auth": "c2VjcmV0"}}}))
    monkeypatch.chdir(tmp_path / "elsewhere")
    folder = tmp_path / "exp"
    folder.mkdir()

    def schemas(d):
        d["workload"] = {"topic": "events", "schemas": {"versions": [str(secret)], "readers": {"r": str(secret)}}}

    path = _file(folder, schemas)
    monkeypatch.chdir(tmp_path)
    _, errors = experiments.check(path)
    assert errors and not any("c2VjcmV0" in e or "auths" in e for e in errors), errors


def test_a_schema_path_to_dev_zero_or_a_fifo_is_one_line_without_hanging(tmp_path, monkeypatch):
    from kchaos.patterns.schema import load_schema

    fifo = tmp_path / "s.avsc"
    os.mkfifo(fifo)
    for path in (Path("/dev/zero"), fifo):
        with pytest.raises(BadInput) as err:
            load_schema(path)
        assert "\n" not in str(err.value)


def test_terminal_escapes_from_a_file_never_reach_the_terminal(tmp_path):
    from kchaos.cli import app

    bad = _file(tmp_path, lambda d: d.update(id="x\x1b]0;owned\x07\x1b[2J", extra="\x1b[31m"))
    out = CliRunner().invoke(app, ["validate", str(bad)])
    assert out.exit_code == 2 and "\x1b" not in out.output and "\x07" not in out.output, repr(out.output)
    good = _file(tmp_path, lambda d: d.update(question="what \x1b[2J now?"))
    out = CliRunner().invoke(app, ["validate", str(good)])
    assert "\x1b" not in out.output, repr(out.output)


def test_rich_markup_in_a_file_name_is_shown_not_obeyed():
    from kchaos.cli import app

    out = CliRunner().invoke(app, ["validate", "[/x].yaml"])
    assert out.exit_code == 2 and "[/x].yaml" in out.output


def test_the_pytest_plugin_never_borrows_an_unnamed_running_cluster(monkeypatch):
    from kchaos import api, cluster, pytest_plugin

    class Config:
        def getoption(self, name):
            return {"--kchaos-backend": "local", "--kchaos-kafka-version": None, "--kchaos-cluster": None}[name]

    others = object()
    started = type("C", (), {"spec": ClusterSpec(), "name": "kchaos-pytest"})()
    monkeypatch.setattr(cluster, "find_running", lambda *a, **k: others)
    monkeypatch.setattr(api, "up", lambda *a, **k: started)
    monkeypatch.setattr(api, "down", lambda name: None)
    pool = pytest_plugin.Clusters(Config())
    assert pool.get() is started
    assert pool.get() is started  # its own is reused
