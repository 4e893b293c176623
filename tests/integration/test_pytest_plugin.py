"""The pytest plugin, tested with pytest's own ``pytester``: inner pytest runs (in
subprocesses, as a user's would be) attach to the session's test cluster with
``--kchaos-cluster`` so no second cluster is started."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from kchaos import paths, procs
from kchaos.cluster import state
from tests.integration.conftest import TEST_CLUSTER, as_a_terminal_would, heal_and_wait, wait_for

pytest_plugins = ["pytester"]
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "orders"
KCHAOS_HOME = str(paths.home())  # read now: pytester points HOME at its own folder
ATTACH = (f"--kchaos-cluster={TEST_CLUSTER}", "-p", "no:cacheprovider")


@pytest.fixture
def inner(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, healthy):
    """A pytester whose runs find kchaos' installs and the running test cluster."""
    monkeypatch.setenv("KCHAOS_HOME", KCHAOS_HOME)
    yield pytester
    heal_and_wait(healthy)


def test_the_orders_example_passes_fixed_and_fails_buggy_with_the_finding(inner: pytest.Pytester):
    for name in ("orders.py", "buggy_consumer.py", "fixed_consumer.py", "test_orders.py"):
        shutil.copy(EXAMPLE / name, inner.path / name)
    result = inner.runpytest_subprocess(*ATTACH, timeout=300)
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*AnomaliesFound: kchaos found anomalies: skipped *",
            "*finding: * committed records at offsets * were never processed by a group that moved past them*",
            "*kchaos history*",
            "FAILED test_orders.py::test_every_order_is_processed[[]buggy_consumer.py[]]*",
        ]
    )
    result.stdout.no_fnmatch_line("FAILED*fixed_consumer*")


def test_the_patterns_example_drives_a_handler_through_a_leader_kill(inner: pytest.Pytester):
    """The README's "drive your own handler" example: its invariant check passes (it
    asserts each payment charged once or dead-lettered once, which a lost or twice-done
    payment would fail)."""
    shutil.copy(EXAMPLE.parent / "patterns" / "test_payments.py", inner.path / "test_payments.py")
    result = inner.runpytest_subprocess(*ATTACH, timeout=300)
    result.assert_outcomes(passed=1)


def test_faults_are_healed_after_a_failing_test(inner: pytest.Pytester, healthy):
    inner.makepyfile(
        """
        import kchaos

        def test_fails_with_faults_on(kafka_cluster, faults):
            faults.kill(kchaos.node(2))
            faults.slow(kchaos.node(1), latency_ms=300)
            assert False, "failing with a broker down and a slow link"
        """
    )
    result = inner.runpytest_subprocess(*ATTACH, timeout=300)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*kchaos history*", '*"op":"fault","name":"kill","target":"2","phase":"start"*'])
    assert all(healthy.process_state(n.id) == "up" for n in healthy.spec.nodes)
    toxics = {name: p.get("toxics") for name, p in healthy.toxiproxy.proxies().items() if p.get("toxics")}
    assert toxics == {}


def test_an_interrupted_test_leaves_nothing_running(inner: pytest.Pytester, healthy, tmp_path: Path):
    ready = tmp_path / "ready"
    inner.makepyfile(
        f"""
        import sys, time
        from pathlib import Path
        import kchaos

        def test_interrupted_midway(kafka_cluster, faults, workers):
            worker = workers.start([sys.executable, "-c", "import time; time.sleep(300)"], name="sleeper")
            faults.kill(kchaos.node(3))
            Path({str(ready)!r}).write_text(str(worker.pid))
            time.sleep(120)
        """
    )
    proc = inner.popen(
        [sys.executable, "-m", "pytest", *ATTACH], stdin=subprocess.DEVNULL, preexec_fn=as_a_terminal_would
    )
    try:
        wait_for(lambda: ready.exists() and ready.read_text(), 120, "the inner test to start its worker and fault")
        worker = int(ready.read_text())
        assert procs.alive(worker) and healthy.process_state(3) == "down"
        proc.send_signal(signal.SIGINT)
        proc.wait(120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 2, f"inner pytest exit code {proc.returncode} (2: interrupted)"
    wait_for(lambda: not procs.alive(worker), 10, f"worker {worker} gone")
    assert healthy.process_state(3) == "up", "the interrupted test's faults fixture did not heal"


def test_kafka_cluster_borrows_no_unnamed_cluster_and_reuses_its_own(inner: pytest.Pytester):
    """A running cluster that fits (TEST_CLUSTER has 3 brokers) is not borrowed unless
    named (on a shared machine it may be another job's); the plugin's own one is reused."""
    running = [n for n in state.known_clusters() if (state.load(n) or {}).get("status") == "up"]
    assert TEST_CLUSTER in running
    inner.makepyfile(
        """
        import pytest

        @pytest.mark.kchaos(brokers=1)
        def test_starts_its_own_for_one_broker(kafka_cluster):
            assert (kafka_cluster.name, kafka_cluster.spec.brokers) == ("kchaos-pytest", 1)
            assert kafka_cluster.process_state(1) == "up"

        @pytest.mark.kchaos(brokers=1)
        def test_reuses_its_own(kafka_cluster):
            assert kafka_cluster.name == "kchaos-pytest"
        """
    )
    result = inner.runpytest_subprocess("-p", "no:cacheprovider", "--kchaos-backend=local", timeout=300)
    result.assert_outcomes(passed=2)
    assert not procs.find_marked("kchaos-pytest"), "the plugin's own cluster outlived the session"
    assert state.load("kchaos-pytest") is None
