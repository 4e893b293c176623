"""Creating a topic sends the request again when it failed in flight (issue 24: the first
cluster of a quick suite on Kafka 3.9.1 failed on ``_DESTROY_BROKER`` while creating
its readiness topic, and its 18 experiments did not run), and only then."""

from __future__ import annotations

from concurrent.futures import Future

import pytest
from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import NewTopic

from kchaos.cluster.readiness import create_topic


class _Admin:
    """Answers each create_topics with the next outcome: an error code, or None (done)."""

    def __init__(self, *outcomes: int | None) -> None:
        self.outcomes, self.calls = list(outcomes), 0

    def create_topics(self, topics, operation_timeout=None):
        self.calls += 1
        fut: Future = Future()
        code = self.outcomes.pop(0)
        if code is None:
            fut.set_result(None)
        else:
            fut.set_exception(KafkaException(KafkaError(code)))
        return {topics[0].topic: fut}


def test_a_request_that_failed_in_flight_is_sent_again():
    adm = _Admin(KafkaError._DESTROY_BROKER, None)
    create_topic(adm, NewTopic("t", 1, 1), 5)
    assert adm.calls == 2


def test_already_exists_after_a_failed_try_is_that_trys_success():
    adm = _Admin(KafkaError._TIMED_OUT, KafkaError.TOPIC_ALREADY_EXISTS)
    create_topic(adm, NewTopic("t", 1, 1), 5)
    assert adm.calls == 2


def test_already_exists_at_once_is_an_error_unless_allowed():
    with pytest.raises(KafkaException):
        create_topic(_Admin(KafkaError.TOPIC_ALREADY_EXISTS), NewTopic("t", 1, 1), 5)
    create_topic(_Admin(KafkaError.TOPIC_ALREADY_EXISTS), NewTopic("t", 1, 1), 5, exists_ok=True)


def test_an_error_on_the_merits_is_not_retried_and_attempts_are_bounded():
    adm = _Admin(KafkaError.INVALID_REPLICATION_FACTOR, None)
    with pytest.raises(KafkaException):
        create_topic(adm, NewTopic("t", 1, 9), 5)
    assert adm.calls == 1
    adm = _Admin(KafkaError._DESTROY_BROKER, KafkaError._DESTROY_BROKER, KafkaError._DESTROY_BROKER, None)
    with pytest.raises(KafkaException):
        create_topic(adm, NewTopic("t", 1, 1), 5)
    assert adm.calls == 3
