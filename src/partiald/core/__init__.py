"""The IR, tracing, interpretation and tree utilities: the engine's core."""
