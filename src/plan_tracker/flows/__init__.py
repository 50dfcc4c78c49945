"""Prefect flows: thin orchestration of the library's coarse, set-based stages."""
