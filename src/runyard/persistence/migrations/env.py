"""Alembic environment for runyard's schema, run programmatically by ``runyard.persistence.migrate``.

The caller hands over an open synchronous connection in ``config.attributes["connection"]``;
there is no alembic.ini and no offline (SQL script) mode.
"""

from __future__ import annotations

from alembic import context

import runyard.persistence.assistant_tables  # noqa: F401 - registers the assistants tables
from runyard.persistence import thread_tables  # noqa: F401 - registers the threads table
from runyard.persistence.migrate import VERSION_TABLE, include_object
from runyard.persistence.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("runyard migrations run through runyard.persistence.migrate.upgrade(engine)")

context.configure(
    connection=connection,
    target_metadata=metadata,
    version_table=VERSION_TABLE,
    render_as_batch=connection.dialect.name == "sqlite",
    include_object=include_object(connection.dialect.name),
)
with context.begin_transaction():
    context.run_migrations()
