"""Experiment files: the model, a variant resolved, whole-file validation, the catalog."""
