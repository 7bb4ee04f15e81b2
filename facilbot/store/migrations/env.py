"""Alembic environment. facilbot runs migrations on a connection it opened (async engine,
``run_sync``) and passes it in ``config.attributes["connection"]``; see facilbot/store/migrate.py.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

config = context.config
# The models, for autogenerate only (None when upgrading): facilbot.store.migrate passes the
# metadata with every platform's tables on it.
target_metadata = config.attributes.get("metadata")


def run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        compare_type=True,
        # SQLite cannot ALTER most things: later migrations rebuild tables in batch mode.
        render_as_batch=connection.dialect.name == "sqlite",
        transaction_per_migration=False,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("facilbot migrations run online only: use `facilbot migrate`")

_connection = config.attributes.get("connection")
if _connection is None:
    raise SystemExit("run migrations with `facilbot migrate` (there is no alembic.ini)")
run_migrations(_connection)
