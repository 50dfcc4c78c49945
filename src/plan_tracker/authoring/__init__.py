"""Authoring plans: draft a plan YAML from a Chinese work report (`plan draft`)."""

from plan_tracker.authoring.draft import DraftError, draft_plan, read_document

__all__ = ["DraftError", "draft_plan", "read_document"]
