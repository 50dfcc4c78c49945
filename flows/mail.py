"""Deployment entrypoint (`prefect.yaml`: flows/mail.py:fetch_replies)."""

from plan_tracker.flows.nightly import fetch_replies

__all__ = ["fetch_replies"]
