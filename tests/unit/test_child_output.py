"""A child's own output stays in the run folder: librdkafka writes its assertion
failures straight to file descriptor 2 and Python its tracebacks, and neither may reach
the terminal between the live view's lines (a healthy run prints none; a crash is in
``<name>.log`` beside the history)."""

from __future__ import annotations

import multiprocessing
import os

from kchaos.events import Client
from kchaos.history import load
from kchaos.workload.child import ClientProcess, enter_child

_SPAWN = multiprocessing.get_context("spawn")


def _assert_like_librdkafka(history_path: str) -> None:
    enter_child(history_path, "c1")
    os.write(2, b"*** rdkafka_queue.h:1: rd_kafka_enq_once_del_source_return: assert: erroneous\n")
    os._exit(134)


def test_what_a_child_writes_to_descriptor_2_goes_to_its_log(tmp_path, capfd):
    history = tmp_path / "history.jsonl"
    proc = _SPAWN.Process(target=_assert_like_librdkafka, args=(str(history),))
    proc.start()
    proc.join(60)
    out, err = capfd.readouterr()
    assert proc.exitcode == 134
    assert "assert" not in out + err
    assert "rd_kafka_enq_once_del_source_return" in (tmp_path / "history.c1.log").read_text()


def test_a_child_traceback_is_in_its_log_not_on_the_terminal(tmp_path, capfd):
    history = tmp_path / "history.jsonl"
    consumer = ClientProcess({"name": "r1", "group": "g", "no_such_setting": 1}, history, 0.0, "unit-test")
    consumer.start()
    consumer.join(60)
    out, err = capfd.readouterr()
    assert "Traceback" not in out + err
    log = (tmp_path / "history.r1.log").read_text()
    assert "Traceback" in log and "no_such_setting" in log
    # The history says the member crashed, with the log's last line; a kill of ours is no crash.
    (crash,) = [e for e in load(history) if type(e) is Client]
    assert (crash.producer, crash.event, crash.error) == ("r1", "crashed", "exit code 1")
    assert "no_such_setting" in crash.detail


def test_a_recorded_clients_librdkafka_log_goes_beside_the_history(tmp_path, capfd):
    """A user's recorded client still open while its cluster is gone logs ``Connection
    refused``: into ``<history>.librdkafka.log``, not onto the terminal. Nothing listens
    on 127.0.0.1:1."""
    from kchaos.workload.recorded import History

    producer = History(tmp_path / "history.jsonl").producer({"bootstrap.servers": "127.0.0.1:1"})
    log = tmp_path / "history.librdkafka.log"
    for _ in range(50):
        producer.poll(0.1)
        if log.exists() and "refused" in log.read_text():
            break
    out, err = capfd.readouterr()
    assert "refused" not in out + err
    assert "Connection refused" in log.read_text()
