"""The workload: recording producers, group consumers and drain readers on confluent-kafka."""
