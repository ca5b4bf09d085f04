"""Every service's Alembic history builds exactly its models, in a version table of its own, on
SQLite and PostgreSQL; a database made by create_all before migrations existed is adopted."""
from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, pool, text

from services.common.migrations import alembic_config, upgrade
from services.host import ledger
from services.permission import testing
from services.permission.db import migrate as permission_migrate
from services.permission.db.models import Base as PermissionBase
from services.prover import db as prover_db
from services.verifier import db as verifier_db

SERVICES = {
    "host": (ledger.MIGRATIONS, ledger.VERSION_TABLE, ledger._Base.metadata, "host_permissions"),
    "verifier": (verifier_db.MIGRATIONS, verifier_db.VERSION_TABLE, verifier_db.Base.metadata, "verifier_transcripts"),
    "prover": (prover_db.MIGRATIONS, prover_db.VERSION_TABLE, prover_db.Base.metadata, "keys"),
}


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request, tmp_path):
    with testing.database_url(request.param, tmp_path) as url:
        yield url


def _differences(url: str, metadata, version_table: str) -> list:
    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"version_table": version_table})
            return compare_metadata(context, metadata)
    finally:
        engine.dispose()


def _foreign(diff, metadata) -> bool:
    if diff[0] == "remove_table":
        return diff[1].name not in metadata.tables
    if diff[0] == "remove_index":
        return diff[1].table.name not in metadata.tables
    return False


def test_all_services_migrate_one_database_to_exactly_their_models(database_url):
    """Services may share one database: each keeps its own revision history."""
    permission_migrate.upgrade(database_url)
    for migrations, version_table, _metadata, _table in SERVICES.values():
        upgrade(database_url, migrations, version_table=version_table)
    every = {"permission": (PermissionBase.metadata, "alembic_version"),
             **{name: (v[2], v[1]) for name, v in SERVICES.items()}}
    for name, (metadata, version_table) in every.items():
        # the other services' tables (and their indexes) show as removals: only its own must match
        diff = [d for d in _differences(database_url, metadata, version_table) if not _foreign(d, metadata)]
        assert diff == [], f"{name}: migrations and models differ: {diff}"
    engine = create_engine(database_url, poolclass=pool.NullPool)
    tables = set(inspect(engine).get_table_names())
    engine.dispose()
    assert {"alembic_version", *(v[1] for v in SERVICES.values())} <= tables


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_a_database_made_by_create_all_is_adopted_not_recreated(tmp_path, service):
    migrations, version_table, metadata, table = SERVICES[service]
    url = f"sqlite:///{tmp_path}/{service}.db"
    # what the service's create_all made before it had migrations: the tables of 0001, unversioned
    upgrade(url, migrations, "0001", version_table=version_table)
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.begin() as conn:
        conn.execute(text(f"DROP TABLE {version_table}"))
    engine.dispose()
    upgrade(url, migrations, version_table=version_table, adopt=("0001", table))  # would fail: table exists
    assert _differences(url, metadata, version_table) == []
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as conn:
        current = MigrationContext.configure(conn, opts={"version_table": version_table}).get_current_revision()
    engine.dispose()
    assert current == ScriptDirectory.from_config(alembic_config(url, migrations)).get_current_head()
