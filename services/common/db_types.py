"""Column type for Solidity uint256 values (license ids, wei amounts)."""
from __future__ import annotations

from sqlalchemy import Numeric, String
from sqlalchemy.types import TypeDecorator


class Uint256(TypeDecorator):
    """NUMERIC(78, 0) on PostgreSQL (78 digits hold 2**256); a decimal string on SQLite, whose
    NUMERIC affinity would turn values above 2**63 into lossy floats. Only equality is ever
    used on these columns, so string comparison on SQLite is enough."""

    impl = Numeric(78, 0)
    cache_ok = True

    def load_dialect_impl(self, dialect):
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(78))
        return dialect.type_descriptor(Numeric(78, 0))

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        return str(int(value)) if dialect.name == "sqlite" else int(value)

    def process_result_value(self, value, dialect):
        return None if value is None else int(value)
