"""Names that become paths, deletes that stay inside kchaos' root, and signals only to
processes that carry this cluster's mark (issue 24: S1, S3, S6, S7, S8).

``shutil.rmtree`` is replaced by a recorder in every test here that could reach it, so a
regression cannot delete anything real."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kchaos import procs, safety
from kchaos.errors import BadInput

MINIMAL = Path(__file__).parent / "data" / "minimal-experiment.yaml"


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("KCHAOS_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    monkeypatch.setattr("kchaos.cluster.docker.images.docker_client", _no_docker)
    (tmp_path / "home" / "clusters").mkdir(parents=True)
    return tmp_path / "home"


def _no_docker():
    raise RuntimeError("no docker in unit tests")


@pytest.fixture
def removed(monkeypatch, tmp_path):
    """Every rmtree call, recorded; one outside tmp_path fails the test instead of deleting."""
    calls: list[Path] = []
    real = shutil.rmtree

    def record(path, *args, **kwargs):
        calls.append(Path(path))
        if not Path(path).resolve().is_relative_to(tmp_path.resolve()):
            raise AssertionError(f"rmtree outside the sandbox: {path}")
        return real(path, *args, **kwargs)

    monkeypatch.setattr(shutil, "rmtree", record)
    return calls


def _cli(*args: str):
    from kchaos.cli import app

    return CliRunner().invoke(app, list(args))


@pytest.mark.parametrize("name", ["../../victim", "/", "..", "a/b", "Default", "x" * 60, "-x", ""])
def test_down_refuses_a_cluster_name_that_is_a_path(home, removed, tmp_path, name):
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "precious").write_text("keep me")
    done = _cli("down", "--cluster", name)
    assert done.exit_code == 2, done.output
    assert (victim / "precious").exists()
    assert removed == []


def test_teardown_never_removes_outside_the_clusters_folder(home, removed, tmp_path):
    from kchaos.cluster import local

    victim = tmp_path / "victim"
    victim.mkdir()
    with pytest.raises(BadInput):
        local.teardown("../../victim")
    assert victim.exists() and removed == []


def test_a_symlinked_cluster_folder_is_unlinked_not_followed(home, removed, tmp_path):
    from kchaos.cluster import local

    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "precious").write_text("keep me")
    (home / "clusters" / "linked").symlink_to(victim)
    local.teardown("linked")
    assert (victim / "precious").exists()
    assert not (home / "clusters" / "linked").exists()


def test_down_removes_its_own_cluster_folder(home, removed):
    from kchaos.cluster import local

    (home / "clusters" / "mine").mkdir()
    (home / "clusters" / "mine" / "state.json").write_text("{}")
    assert any("removed" in line for line in local.teardown("mine"))
    assert not (home / "clusters" / "mine").exists()


def test_remove_tree_checks_the_root_at_delete_time(tmp_path):
    root, outside = tmp_path / "root", tmp_path / "outside"
    (root / "a").mkdir(parents=True)
    outside.mkdir()
    with pytest.raises(BadInput):
        safety.remove_tree(root, root / ".." / "outside")
    with pytest.raises(BadInput):
        safety.remove_tree(root, root)
    assert outside.exists() and root.exists()
    assert safety.remove_tree(root, root / "a") and not (root / "a").exists()


def test_state_paths_refuse_bad_names(home):
    from kchaos.cluster import state

    for bad in ("../x", "/", "a/../b", "UPPER"):
        with pytest.raises(BadInput):
            state.cluster_dir(bad)
    assert state.cluster_dir("kchaos-suite").name == "kchaos-suite"


def test_down_all_skips_names_from_marks_that_are_not_cluster_names(home, removed, monkeypatch, tmp_path):
    (tmp_path / "victim").mkdir()
    monkeypatch.setattr(procs, "find_marked", lambda cluster=None: [12345])
    monkeypatch.setattr(procs, "marked_by", lambda pid: "../../victim")
    done = _cli("down", "--all")
    assert done.exit_code == 0, done.output
    assert removed == [] and (tmp_path / "victim").exists()


# --- processes ---------------------------------------------------------------------------


def _stale_state(home: Path, name: str, pid: int) -> None:
    d = home / "clusters" / name
    d.mkdir(parents=True, exist_ok=True)
    spec = {"brokers": 3, "name": name}
    (d / "state.json").write_text(json.dumps({"backend": "local", "spec": spec, "pids": {"node-1": pid}}))


@pytest.mark.parametrize("fault", ["pause", "kill", "stop"])
def test_a_fault_from_a_stale_state_file_does_not_signal_an_unmarked_process(home, fault):
    from kchaos.cluster.local import LocalCluster

    victim = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        _stale_state(home, "stale", victim.pid)
        cluster = LocalCluster.attach("stale")
        with pytest.raises(BadInput, match="not running"):
            getattr(cluster, fault)(1)
        time.sleep(0.1)
        assert procs.state(victim.pid) not in (None, "T", "t"), "the unmarked process was signalled"
    finally:
        victim.kill()
        victim.wait()


def test_a_process_marked_by_the_cluster_is_signalled(home, tmp_path):
    from kchaos.cluster.local import LocalCluster

    pid = procs.spawn([sys.executable, "-c", "import time; time.sleep(30)"], "marked", tmp_path / "log")
    try:
        _stale_state(home, "marked", pid)
        LocalCluster.attach("marked").pause(1)
        assert procs.paused(pid)
        LocalCluster.attach("marked").resume(1)
        assert not procs.paused(pid)
    finally:
        procs.signal_pid(pid, 9)
        procs.wait_gone(pid, 5)


def test_find_marked_leaves_out_the_caller_and_its_ancestors(tmp_path):
    """A shell with KCHAOS_CLUSTER=x runs kchaos: ``down`` must not kill that shell."""
    script = (
        "import json, os, sys; from kchaos import procs; "
        "print(json.dumps({'found': procs.find_marked('anc-test'), 'parent': os.getppid()}))"
    )
    env = {**os.environ, procs.MARK: "anc-test"}
    out = subprocess.run(
        ["sh", "-c", f'{sys.executable} -c "{script}"; true'], env=env, capture_output=True, text=True, timeout=60
    )
    data = json.loads(out.stdout)
    assert data["parent"] not in data["found"], "find_marked returned the caller's parent shell"


def test_a_mark_that_is_not_utf8_does_not_break_down(monkeypatch, tmp_path):
    real_read = Path.read_bytes

    def environ(self):
        if self.name == "environ" and self.parent.name == "4242":
            return b"PATH=/bin\0KCHAOS_CLUSTER=caf\xe9\0"
        return real_read(self)

    monkeypatch.setattr(Path, "read_bytes", environ)
    assert procs.marked_by(4242) == "caf\ufffd"


# --- experiment ids and run folders -----------------------------------------------------------


@pytest.mark.parametrize("bad", ["/../../../tmp/x", "../x", "a/b", "x\x1b]0;t\x07", "A B"])
def test_an_experiment_id_that_is_a_path_is_refused(tmp_path, bad):
    from kchaos import experiment as experiments

    text = MINIMAL.read_text()
    path = tmp_path / "e.yaml"
    path.write_text(text.replace("id: mini", f"id: {json.dumps(bad)}", 1))
    exp, errors = experiments.check(path)
    assert errors and any(": id: " in e for e in errors), errors


def test_printable_disarms_terminal_escapes():
    assert safety.printable("a\x1b[2Jb\x07\x9b") == "a\\x1b[2Jb\\x07\\x9b"
    assert safety.printable("tab\tnewline\n") == "tab\tnewline\n"


def test_a_cluster_another_run_owns_is_never_borrowed(tmp_path, monkeypatch):
    """``kchaos run`` and ``suite`` reuse a running cluster that fits, but never one that a
    run, a suite or the pytest plugin started for itself: that owner faults it and takes it
    down, perhaps right now in another process."""
    import json as _json

    import kchaos.cluster as cluster_pkg
    from kchaos.cluster.spec import ClusterSpec
    from kchaos.pytest_plugin import PYTEST_CLUSTER
    from kchaos.session import RUN_CLUSTER
    from kchaos.suite import SUITE_CLUSTER

    assert {RUN_CLUSTER, SUITE_CLUSTER, PYTEST_CLUSTER, "kchaos-api", "kchaos-bench"} == set(cluster_pkg.OWNED_BY_A_RUN)
    monkeypatch.setenv("KCHAOS_HOME", str(tmp_path))
    for name in (*cluster_pkg.OWNED_BY_A_RUN, "shared"):
        folder = tmp_path / "clusters" / name
        folder.mkdir(parents=True)
        (folder / "state.json").write_text(_json.dumps({"status": "up", "backend": "local"}))

    class Running:
        def __init__(self, name: str) -> None:
            self.name, self.spec = name, ClusterSpec(name=name)

        def process_state(self, node: int) -> str:
            return "running"

    monkeypatch.setattr(cluster_pkg, "attach", Running)
    found = cluster_pkg.find_running(3, backend="local")
    assert found is not None and found.name == "shared"
    (tmp_path / "clusters" / "shared" / "state.json").unlink()
    assert cluster_pkg.find_running(3, backend="local") is None


def test_fault_start_builds_the_broker_command_and_runs_none_from_the_state_file(tmp_path, monkeypatch):
    """A state file is a file on disk: a command stored in it (``commands``, as older
    versions wrote) must not be what ``kchaos fault start`` runs."""
    import json as _json

    from kchaos import install, procs
    from kchaos.cluster.local import LocalCluster
    from kchaos.cluster.spec import ClusterSpec

    monkeypatch.setenv("KCHAOS_HOME", str(tmp_path))
    folder = tmp_path / "clusters" / "victim"
    folder.mkdir(parents=True)
    planted = ["sh", "-c", f"touch {tmp_path / 'pwned'}"]
    (folder / "state.json").write_text(_json.dumps({"status": "up", "pids": {}, "commands": {"node-1": planted}}))
    started: list[list[str]] = []
    monkeypatch.setattr(procs, "spawn", lambda cmd, *a, **k: started.append(cmd) or 999_999_999)
    monkeypatch.setattr(install, "find_java", lambda: "/opt/java/bin/java")
    monkeypatch.setattr(install, "find_kafka", lambda v: install.KafkaInstall(v, tmp_path / "libs", "test"))
    LocalCluster(ClusterSpec(name="victim")).start(1)
    (cmd,) = started
    assert cmd[0] == "/opt/java/bin/java" and "kafka.Kafka" in cmd and "sh" not in cmd


def test_docker_list_files_passes_the_folder_as_an_argument_not_as_script_text():
    from kchaos.cluster.docker import DockerCluster

    seen: list[list[str]] = []
    cluster = object.__new__(DockerCluster)
    cluster.node_exec = lambda node, argv: seen.append(argv) or "12 00000000000000000000.log\n"
    folder = "/var/lib/kafka/data/x'; touch /tmp/pwned; '"
    assert cluster.list_files(1, folder) == [("00000000000000000000.log", 12)]
    (argv,) = seen
    assert argv[-1] == folder and not any(folder in a for a in argv[:-1])
