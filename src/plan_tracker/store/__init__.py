"""The store: SQLModel tables, engine creation, migrations and set-based queries."""
