"""Deployment entrypoint (`prefect.yaml`: flows/deliver.py:deliver_waiting)."""

from plan_tracker.flows.nightly import deliver_waiting

__all__ = ["deliver_waiting"]
