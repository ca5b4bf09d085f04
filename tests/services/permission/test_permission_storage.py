"""Migrations match the models on both databases; the signer key loads from a keystore or env."""
from __future__ import annotations

import json
import secrets

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from eth_account import Account
from sqlalchemy import inspect

from services.common.database import Database
from services.permission.config import Settings
from services.permission.db.migrate import alembic_config, upgrade
from services.permission.db.models import Base
from services.permission.signer import SignerConfigError, load_private_key, write_keystore


def test_migrations_create_exactly_the_models(database_url):
    upgrade(database_url)
    db = Database(database_url)
    try:
        with db.engine.connect() as conn:
            context = MigrationContext.configure(conn)
            assert compare_metadata(context, Base.metadata) == []
        command.downgrade(alembic_config(database_url), "base")
        with db.engine.connect() as conn:
            assert set(inspect(conn).get_table_names()) <= {"alembic_version"}
        upgrade(database_url)  # and up again
    finally:
        db.dispose()


def test_sqlite_runs_in_wal_mode(tmp_path):
    url = f"sqlite:///{tmp_path / 'p.db'}"
    upgrade(url)
    db = Database(url)
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    db.dispose()


def test_sqlite_writers_of_every_process_queue_on_one_file_lock(tmp_path):
    """A write session holds an OS lock on <db>.writer-lock that another process's writer waits
    on (flock), instead of polling SQLite's busy handler."""
    import fcntl
    import os

    url = f"sqlite:///{tmp_path / 'p.db'}"
    upgrade(url)
    db = Database(url)
    probe = os.open(tmp_path / "p.db.writer-lock", os.O_RDWR)  # another open file: as another process
    try:
        with db.write(), pytest.raises(BlockingIOError):
            fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)  # free again after the commit
        fcntl.flock(probe, fcntl.LOCK_UN)
    finally:
        os.close(probe)
        db.dispose()


def test_sqlite_wal_is_checkpointed_in_the_background(tmp_path):
    """Commits never checkpoint (wal_autocheckpoint=0); the background checkpointer copies the
    WAL into the database file, so the file grows without any further commit."""
    import time

    from sqlalchemy import text

    path = tmp_path / "p.db"
    upgrade(f"sqlite:///{path}")
    db = Database(f"sqlite:///{path}")
    try:
        with db.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 0
        before = path.stat().st_size
        with db.write() as session:
            session.execute(text("CREATE TABLE filler (b BLOB)"))
            session.execute(text("INSERT INTO filler VALUES (:b)"), [{"b": secrets.token_bytes(4096)}] * 64)
        deadline = time.monotonic() + 10
        while path.stat().st_size < before + 64 * 4096 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert path.stat().st_size >= before + 64 * 4096
    finally:
        db.dispose()


def test_signer_key_from_keystore_or_environment(tmp_path, monkeypatch):
    for name in ("SIGNER_KEY", "KEYSTORE", "KEYSTORE_PASSWORD"):
        monkeypatch.delenv(f"OML_PERMISSION_{name}", raising=False)
    key = secrets.token_bytes(32)
    path = tmp_path / "signer.json"
    # pbkdf2 with few rounds: the format is what is tested, not the KDF's strength
    path.write_text(json.dumps(write_keystore(key, "pw", kdf="pbkdf2", iterations=16)))
    assert load_private_key(Settings(keystore=path, keystore_password="pw")) == key
    with pytest.raises(SignerConfigError, match="cannot decrypt"):
        load_private_key(Settings(keystore=path, keystore_password="wrong"))
    with pytest.raises(SignerConfigError, match="PASSWORD"):
        load_private_key(Settings(keystore=path))
    assert load_private_key(Settings(signer_key="0x" + key.hex())) == key
    with pytest.raises(SignerConfigError, match="32 bytes"):
        load_private_key(Settings(signer_key="0x1234"))
    with pytest.raises(SignerConfigError, match="no signer key"):
        load_private_key(Settings())
    assert Account.from_key(key).address  # the key is a valid secp256k1 key


def test_uint256_values_survive_storage(database_url):
    """License ids and wei amounts above 2**63 (SQLite would store them as lossy floats)."""
    from services.permission.db.models import License
    from services.permission.licenses import upsert_license

    upgrade(database_url)
    db = Database(database_url)
    big = 2**256 - 1
    with db.write() as session:
        upsert_license(session, big, model_id=big, host="0x" + "11" * 20, expires_at=1, quota=0,
                       price_per_query=2**95, stake=2**96 - 1)
    with db.read() as session:
        row = session.get(License, big)
        assert (row.license_id, row.model_id, row.price_per_query, row.stake) == (big, big, 2**95, 2**96 - 1)
    db.dispose()


def test_fee_budget_migration_keeps_licenses_and_replays_the_chain(database_url):
    """0003 adds the escrow columns (zero on existing rows) and resets the mirror's cursor and
    journal, so that it replays the chain once and picks up the escrow events it never followed."""
    from sqlalchemy import text

    from services.permission.db.models import ChainCursor, License

    upgrade(database_url)
    command.downgrade(alembic_config(database_url), "0002")  # a database from before the fee budget
    db = Database(database_url)
    try:
        with db.engine.begin() as conn:
            conn.execute(text("INSERT INTO licenses (license_id, model_id, host, status, slashed, stake, expires_at, "
                              "quota, price_per_query, issued) VALUES ('5', '1', :h, 'active', false, '7', 9, 0, "
                              "'3', 4)"), {"h": "0x" + "11" * 20})
            conn.execute(text("INSERT INTO chain_cursor (name, block_number, block_hash) VALUES "
                              "('license_manager', 12, :b)"), {"b": b"\1" * 32})
            conn.execute(text("INSERT INTO mirror_chunks (end_block, start_block, block_hash) VALUES (12, 1, :b)"),
                         {"b": b"\1" * 32})
        upgrade(database_url)
        with db.read() as session:
            row = session.get(License, 5)
            assert (row.issued, row.stake, row.price_per_query) == (4, 7, 3)
            assert (row.escrow_deposited, row.escrow_withdrawn, row.settled_queries, row.settled_fee) == (0, 0, 0, 0)
            assert row.fee_budget == 0
            assert session.get(ChainCursor, "license_manager") is None
    finally:
        db.dispose()
