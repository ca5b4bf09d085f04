"""Helpers shared by the permission service tests (a module of its own: conftest is not importable)."""
from __future__ import annotations

import secrets

from eth_account import Account

from services.permission.config import Settings
from services.permission.licenses import add_escrow_deposit, upsert_license
from services.permission.testing import CLAIM_MANAGER, USAGE_SETTLEMENT

START = 1_800_000_000  # fake clock start (unix seconds)
PRICE = 10**15


class Clock:
    def __init__(self, now: float = START):
        self.now = now

    def __call__(self) -> float:
        return self.now


class Keys:
    """Fresh keys per test: signer, two hosts, a verifier, an outsider."""

    def __init__(self):
        self.signer, self.host, self.other_host, self.verifier, self.outsider = (
            secrets.token_bytes(32) for _ in range(5))

    @staticmethod
    def address(key: bytes) -> str:
        return Account.from_key(key).address


def make_settings(database_url: str, **overrides) -> Settings:
    values = {"database_url": database_url, "chain_id": 31337, "claim_manager": CLAIM_MANAGER,
              "usage_settlement": USAGE_SETTLEMENT, "max_batch": 64, "mirror": False}
    values.update(overrides)
    return Settings(**values)


# Escrow of a seeded license: fees for a billion σ at PRICE, so that only the tests of the fee
# budget meet it.
ESCROW = 10**9 * PRICE


def seed_license(service, license_id: int, host_key: bytes, *, quota: int = 0,
                 expires_at: int = START + 86_400 * 30, price: int = PRICE, escrow: int = ESCROW) -> None:
    with service.db.write() as session:
        upsert_license(session, license_id, model_id=1, host=Keys.address(host_key),
                       expires_at=expires_at, quota=quota, price_per_query=price, stake=10**19)
        if escrow:
            add_escrow_deposit(session, license_id, escrow)
