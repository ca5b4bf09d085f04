"""Alembic environment of the host's database."""
from services.common.migrations import run_migrations
from services.host.ledger import VERSION_TABLE, _Base

run_migrations(_Base.metadata, VERSION_TABLE)
