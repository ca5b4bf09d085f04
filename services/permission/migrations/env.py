"""Alembic environment of the permission service."""
from services.common.migrations import run_migrations
from services.permission.db.models import Base

run_migrations(Base.metadata)
