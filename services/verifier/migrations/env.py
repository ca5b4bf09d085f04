"""Alembic environment of the verifier's database."""
from services.common.migrations import run_migrations
from services.verifier.db import VERSION_TABLE, Base

run_migrations(Base.metadata, VERSION_TABLE)
