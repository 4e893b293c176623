"""Application patterns exercised by experiments (schema evolution, retries and dead letters, ...)."""
