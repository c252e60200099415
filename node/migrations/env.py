"""Alembic's entry point: migrations run on the connection the node hands over."""

from alembic import context
from sqlmodel import SQLModel

import node.anchoring.models  # noqa: F401  (registers the tables)
import node.blacklist.models  # noqa: F401
import node.chain.models  # noqa: F401
import node.consents.models  # noqa: F401
import node.disputes.models  # noqa: F401
import node.queries.models  # noqa: F401
import node.records.models  # noqa: F401
import node.reports.models  # noqa: F401
import node.retention.models  # noqa: F401
import node.staff.models  # noqa: F401

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=SQLModel.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
