"""Alembic, run from code: every service upgrades its own database to head when it starts.

Each service keeps its migrations in its own `migrations/` folder, whose env.py calls
`run_migrations` with the service's metadata and its own version table, so that services may
share one PostgreSQL database without sharing a revision history.
"""
from __future__ import annotations

from pathlib import Path

from alembic import command, context
from alembic.config import Config
from sqlalchemy import MetaData, create_engine, inspect, pool


def alembic_config(url: str, script_location: Path) -> Config:
    config = Config()
    config.set_main_option("script_location", str(script_location))
    # ConfigParser interpolation would choke on '%' in URL-encoded passwords/options.
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, script_location: Path, revision: str = "head", *, version_table: str = "alembic_version",
            adopt: tuple[str, str] | None = None) -> None:
    """Upgrades to `revision`. `version_table` must be the one the env.py names. `adopt` =
    (revision, a table it creates): a database made before the service had migrations (its
    tables created directly from the models) is stamped at that revision first."""
    config = alembic_config(url, script_location)
    if adopt is not None:
        engine = create_engine(url, poolclass=pool.NullPool)
        try:
            tables = set(inspect(engine).get_table_names())
        finally:
            engine.dispose()
        if adopt[1] in tables and version_table not in tables:
            command.stamp(config, adopt[0])
    command.upgrade(config, revision)


def run_migrations(metadata: MetaData, version_table: str = "alembic_version") -> None:
    """The body of a service's migrations/env.py (online mode: the URL is always known)."""
    config = context.config
    engine = create_engine(config.get_main_option("sqlalchemy.url"), poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=metadata, version_table=version_table,
                          render_as_batch=connection.dialect.name == "sqlite")
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()
