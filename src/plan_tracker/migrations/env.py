"""Alembic environment: runs on the connection handed in by `store.db.migrate`."""

from alembic import context
from sqlmodel import SQLModel

import plan_tracker.store.models  # noqa: F401  (registers the tables)
import plan_tracker.store.mail_models  # noqa: F401
import plan_tracker.store.outbox_models  # noqa: F401
import plan_tracker.store.portal_models  # noqa: F401


target_metadata = SQLModel.metadata
connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through plan_tracker.store.db.migrate(engine)")
context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
