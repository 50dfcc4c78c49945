"""Deployment entrypoints (`prefect.yaml`: flows/nightly.py:nightly_follow_up and, for a
night split across workers, flows/nightly.py:evaluate_shard).

The flows themselves live in the package so the CLI can run them too.
"""

from plan_tracker.flows.nightly import evaluate_shard, nightly_follow_up

__all__ = ["evaluate_shard", "nightly_follow_up"]
