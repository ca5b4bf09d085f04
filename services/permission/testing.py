"""Test support for this service and for services that talk to it (host, verifier): a fresh
database on SQLite or on a throw-away PostgreSQL schema. Not used by the service itself."""
from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from eth_account import Account

from oml_core.chain.anvil import free_port
from services.common.process import ServiceProcess

POSTGRES_HOST = "127.0.0.1"
POSTGRES_PORT = 5432
POSTGRES_DB = "test"
_base_url: str | None = None


def postgres_base_url() -> str | None:
    """SQLAlchemy URL of the local test PostgreSQL (trust auth, user postgres or root), or None."""
    global _base_url
    if _base_url is None:
        import psycopg

        _base_url = ""
        for user in ("postgres", "root"):
            try:
                psycopg.connect(host=POSTGRES_HOST, port=POSTGRES_PORT, dbname=POSTGRES_DB, user=user,
                                connect_timeout=2).close()
            except psycopg.OperationalError:
                continue
            _base_url = f"postgresql+psycopg://{user}@{POSTGRES_HOST}:{POSTGRES_PORT}/{POSTGRES_DB}"
            break
    return _base_url or None


def postgres_url_or_skip() -> str:
    """For pytest: the base URL; skip without PostgreSQL, fail if OML_REQUIRE_POSTGRES is set."""
    import pytest

    url = postgres_base_url()
    if url is None:
        where = f"{POSTGRES_HOST}:{POSTGRES_PORT}/{POSTGRES_DB}"
        if os.environ.get("OML_REQUIRE_POSTGRES"):
            pytest.fail(f"OML_REQUIRE_POSTGRES is set but no PostgreSQL answers at {where}")
        pytest.skip(f"PostgreSQL is not running at {where}: PostgreSQL half skipped")
    return url


@contextmanager
def postgres_schema(base_url: str) -> Iterator[str]:
    """A URL whose search_path is a new schema, dropped afterwards: tests never see each other."""
    import sqlalchemy as sa

    schema = f"t_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(base_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    try:
        yield f"{base_url}?options=-csearch_path%3D{schema}"
    finally:
        with engine.connect() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        engine.dispose()


@contextmanager
def database_url(kind: str, directory) -> Iterator[str]:
    """`kind` is "sqlite" (a file in `directory`) or "postgres" (skips when there is none)."""
    if kind == "sqlite":
        yield f"sqlite:///{directory}/permission.db"
    else:
        with postgres_schema(postgres_url_or_skip()) as url:
            yield url


# Stand-in contract addresses for a service run without a chain (mirror off): σ and vouchers are
# signed in these domains, so a client checks them against the same addresses.
CLAIM_MANAGER = "0x" + "c1" * 20
USAGE_SETTLEMENT = "0x" + "5e" * 20
CHAIN_ID = 31337


def seed_license(database_url: str, host_key: bytes, license_id: int = 1, escrow: int = 10**24) -> None:
    """Migrate the database and upsert an active license of `host_key`'s address, no chain needed,
    with `escrow` deposited (by default fees for a billion σ: benchmarks never meet the budget)."""
    from services.common.database import Database
    from services.permission.db.migrate import upgrade
    from services.permission.licenses import add_escrow_deposit, upsert_license

    upgrade(database_url)
    db = Database(database_url)
    try:
        with db.write() as session:
            upsert_license(session, license_id, model_id=1, host=Account.from_key(host_key).address,
                           expires_at=int(time.time()) + 86_400, quota=0, price_per_query=10**15,
                           stake=10**19)
            if escrow:
                add_escrow_deposit(session, license_id, escrow)
    finally:
        db.dispose()


def service_env(database_url: str, signer: bytes) -> dict[str, str]:
    """`oml permission serve` settings for a run without a chain (stand-in domains, mirror off)."""
    return {"OML_PERMISSION_DATABASE_URL": database_url, "OML_PERMISSION_SIGNER_KEY": signer.hex(),
            "OML_PERMISSION_CHAIN_ID": str(CHAIN_ID), "OML_PERMISSION_CLAIM_MANAGER": CLAIM_MANAGER,
            "OML_PERMISSION_USAGE_SETTLEMENT": USAGE_SETTLEMENT, "OML_PERMISSION_MIRROR": "false"}


class PermissionProcess(ServiceProcess):
    """The real `oml permission serve` (uvicorn) on a free loopback port, in its own process
    group, with the chain mirror off: for crash tests and benchmarks that need real HTTP."""

    def __init__(self, database_url: str, signer: bytes, log_path, workers: int = 1):
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        super().__init__("permission", ["permission", "serve", "--host", "127.0.0.1", "--port", str(port),
                                        "--log-level", "warning", "--workers", str(workers)],
                         f"{url}/healthz", log_path, service_env(database_url, signer), url=url)
        self.port = port
