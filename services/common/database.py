"""The database of every OML service: engine and read/write sessions, SQLite or PostgreSQL.

SQLite runs in WAL mode with synchronous=FULL (what a service returned stays stored after a
crash) and explicit BEGIN / BEGIN IMMEDIATE, so that a write transaction takes the write lock up
front instead of failing to upgrade a read snapshot."""
from __future__ import annotations

import fcntl
import logging
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger(__name__)
CHECKPOINT_INTERVAL_S = 0.5


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30},
                               pool_size=16, max_overflow=16)
        _sqlite_setup(engine)
        return engine
    return create_engine(url, pool_size=16, max_overflow=16, pool_pre_ping=True)


def _sqlite_setup(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        # pysqlite's own implicit transactions are turned off; "begin" below issues them.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")  # a σ is durable before it is returned
        cursor.execute("PRAGMA busy_timeout=30000")
        # Checkpoints run in Database's background thread: an automatic one runs inside the
        # commit that crosses the threshold and stalls every σ waiting behind it.
        cursor.execute("PRAGMA wal_autocheckpoint=0")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        immediate = conn.get_execution_options().get("sqlite_immediate", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


class _WriterLock:
    """Serializes SQLite writers of every process on one file, through an OS file lock.

    Without it, a second process (uvicorn worker, replica) that finds the database locked waits
    in SQLite's busy handler, which sleeps in growing steps (up to 100 ms) instead of waking when
    the lock is free: two workers then serve fewer σ than one, with long tail latencies. A
    blocked flock() wakes as soon as the holder commits, and releases the GIL while it waits.
    """

    def __init__(self, path: str):
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        self._threads = threading.Lock()  # flock() is per open file: threads queue here first

    @contextmanager
    def held(self) -> Iterator[None]:
        with self._threads:
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        os.close(self._fd)


class _Checkpointer:
    """Copies the WAL back into the database file in the background (PASSIVE: never blocks a
    writer or waits for a reader), so that no σ commit pays for a checkpoint."""

    def __init__(self, path: str, interval: float = CHECKPOINT_INTERVAL_S):
        self._path, self._interval = path, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sqlite-checkpoint", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        connection = None
        while not self._stop.wait(self._interval):
            try:
                if connection is None:  # mode=rw: never re-create a database file deleted meanwhile
                    connection = sqlite3.connect(f"file:{self._path}?mode=rw", uri=True,
                                                 isolation_level=None, check_same_thread=False)
                connection.execute("PRAGMA wal_checkpoint(PASSIVE)")
            except sqlite3.Error as exc:
                log.debug("WAL checkpoint skipped: %s", exc)
        if connection is not None:
            connection.close()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


class Database:
    """Read sessions and write sessions over one engine."""

    def __init__(self, url: str):
        self.url = url
        self.engine = make_engine(url)
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        path = self.engine.url.database if self.is_sqlite else None
        on_disk = bool(path) and path != ":memory:"
        self._writer_lock = _WriterLock(f"{path}.writer-lock") if on_disk else None
        self._checkpointer = _Checkpointer(path) if on_disk else None
        self._read = sessionmaker(self.engine, expire_on_commit=False)
        self._write = sessionmaker(self.engine.execution_options(sqlite_immediate=True),
                                   expire_on_commit=False)

    @contextmanager
    def read(self) -> Iterator[Session]:
        with self._read() as session, session.begin():
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        """One transaction, committed on exit (rolled back on an exception)."""
        with self._writer_lock.held() if self._writer_lock else nullcontext(), \
                self._write() as session, session.begin():
            yield session

    def dispose(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.stop()
            self._checkpointer = None
        self.engine.dispose()
        if self._writer_lock is not None:
            self._writer_lock.close()
            self._writer_lock = None
