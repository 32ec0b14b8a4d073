"""Alembic environment of tokenguard's own schema.

Run by :func:`tokenguard.stores.sql_migrate.upgrade`, which passes a connection
(already holding the migration lock) in ``config.attributes["connection"]``.
The version table is ``tokenguard_alembic_version``, so the host app's own
Alembic history is never touched; logging configuration is left to the app.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine

from tokenguard.stores.sql_schema import VERSION_TABLE, Base


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    """Autogenerate looks only at tokenguard's tables, never at the host app's."""
    return type_ != "table" or (name or "").startswith("tokenguard_")


def run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        version_table=VERSION_TABLE,
        include_name=include_name,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def main() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        run_migrations(connection)
        return
    # `alembic -c src/tokenguard/stores/migrations/alembic.ini …` by a maintainer.
    url = context.config.get_main_option("sqlalchemy.url")
    if context.is_offline_mode():
        context.configure(url=url, target_metadata=Base.metadata, version_table=VERSION_TABLE,
                          literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(url or "sqlite://")
    try:
        with engine.connect() as own_connection:
            run_migrations(own_connection)
            own_connection.commit()
    finally:
        engine.dispose()


main()
