"""kchaos: answer Kafka's architecture questions with evidence from a real cluster."""

__version__ = "0.1.0"
