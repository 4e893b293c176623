"""Settings every librdkafka client kchaos creates shares."""

from __future__ import annotations

import logging

_silent = logging.getLogger("kchaos.librdkafka")
_silent.addHandler(logging.NullHandler())
_silent.propagate = False

#: librdkafka's own log lines (even FATAL ones) go nowhere: the history is the record.
QUIET = {"log_level": 0, "logger": _silent}
