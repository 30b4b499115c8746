"""Reusable test helpers (like ``optuna.testing``): the storage conformance suite
that every storage backend must pass. Importing it needs pytest."""

__all__: list[str] = []
