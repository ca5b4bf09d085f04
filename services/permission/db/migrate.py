"""The permission service's Alembic migrations (services/permission/migrations), run from code:
the service upgrades its database to head at start, and tests do the same on fresh databases."""
from __future__ import annotations

from pathlib import Path

from alembic.config import Config

from services.common import migrations

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(url: str) -> Config:
    return migrations.alembic_config(url, MIGRATIONS)


def upgrade(url: str, revision: str = "head") -> None:
    migrations.upgrade(url, MIGRATIONS, revision)
