"""Service functions: what CLI commands, web routes and flows call (one call each)."""
