"""CLI commands, one module per area; each registers on the shared Typer apps."""
