"""Deployment entrypoint (`prefect.yaml`: flows/nightly.py:nightly_follow_up).

The flow itself lives in the package so the CLI can run it too.
"""

from plan_tracker.flows.nightly import nightly_follow_up

__all__ = ["nightly_follow_up"]
