"""plan-tracker: a follow-up engine for work plans (督查督办)."""

__version__ = "0.1.0"
