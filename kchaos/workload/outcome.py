"""Classifying a produce's outcome: ok, fail (surely not written) or unknown.

This is where harnesses lie most. Only an error that proves the record was not written
is ``fail``: one raised before any request left the client (serialization, size, bad
partition, unknown topic), or a broker rejection that is always repeated on every
attempt (the record's size). A broker rejection that could follow an earlier attempt
that timed out (NOT_ENOUGH_REPLICAS, NOT_LEADER_OR_FOLLOWER, KAFKA-13574) is only
definite when the producer does not retry (``retries=0``); timeouts, disconnects and
fencing are always ``unknown``.
"""

from __future__ import annotations

from confluent_kafka import KafkaError

#: Errors that happen before a request leaves the client, or are repeated on every attempt.
ALWAYS_DEFINITE = frozenset(
    {
        KafkaError._INVALID_ARG,
        KafkaError._UNKNOWN_TOPIC,
        KafkaError._UNKNOWN_PARTITION,
        KafkaError._VALUE_SERIALIZATION,
        KafkaError._KEY_SERIALIZATION,
        KafkaError.MSG_SIZE_TOO_LARGE,
        KafkaError.INVALID_RECORD,
        KafkaError.TOPIC_AUTHORIZATION_FAILED,
        KafkaError.INVALID_REQUIRED_ACKS,
    }
)
#: Broker rejections made before the append; definite only when there was no earlier attempt.
DEFINITE_WITHOUT_RETRIES = frozenset(
    {
        KafkaError.NOT_ENOUGH_REPLICAS,
        KafkaError.NOT_LEADER_FOR_PARTITION,
        KafkaError.UNKNOWN_TOPIC_OR_PART,
        KafkaError.INVALID_TXN_STATE,
    }
)


def classify(err: KafkaError | None, retries: bool) -> str:
    """``ok``, ``fail`` or ``unknown`` for one delivery report."""
    if err is None:
        return "ok"
    code = err.code()
    if code in ALWAYS_DEFINITE:
        return "fail"
    if not retries and code in DEFINITE_WITHOUT_RETRIES:
        return "fail"
    return "unknown"


def retries_enabled(config: dict[str, object]) -> bool:
    """Whether librdkafka may send a record more than once under this config."""
    for key in ("retries", "message.send.max.retries"):
        if key in config:
            return int(str(config[key])) > 0
    return True
