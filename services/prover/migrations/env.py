"""Alembic environment of the prover's database."""
from services.common.migrations import run_migrations
from services.prover.db import VERSION_TABLE, Base

run_migrations(Base.metadata, VERSION_TABLE)
