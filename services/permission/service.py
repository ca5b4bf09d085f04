"""Wires one permission service together: settings -> database, signer, writer, auth, books,
and (with a deployment and an RPC node) the chain view and mirror."""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from oml_core import typed_data as td
from services.common.database import Database
from services.common.rate_limit import RateLimiter
from services.permission.auth import Authenticator
from services.permission.books import Books
from services.permission.config import Settings
from services.permission.db.migrate import upgrade
from services.permission.issuance import PermissionWriter
from services.permission.signer import Signer, SignerConfigError, load_private_key


@dataclass
class Service:
    settings: Settings
    db: Database
    signer: Signer
    writer: PermissionWriter  # or writer_link.RemoteWriter in a worker of `serve --workers N`
    auth: Authenticator
    books: Books
    mirror: object | None = None  # services.permission.mirror.ChainMirror when a chain is configured
    settler: object | None = None  # services.permission.settle.ExitSettler when a chain is configured
    challenge_limiter: RateLimiter = field(default_factory=lambda: RateLimiter(120.0, 60))         # per address
    client_challenge_limiter: RateLimiter = field(default_factory=lambda: RateLimiter(600.0, 200))  # per client IP
    background: list = field(default_factory=list)

    @property
    def chain_id(self) -> int:
        return self.signer.permission_domain.chain_id

    def start(self) -> None:
        self.writer.start()
        if self.settler is not None:
            self.settler.start()
        if self.mirror is not None and self.settings.mirror:
            self.mirror.start()

    def stop(self) -> None:
        if self.mirror is not None:
            self.mirror.stop()
        if self.settler is not None:
            self.settler.stop()
        self.writer.stop()
        self.db.dispose()


def domains(settings: Settings, deployment=None) -> tuple[td.Domain, td.Domain]:
    """(permission domain, voucher domain) of the deployment, or of the settings without one."""
    if deployment is None and settings.deployment is not None:
        from oml_core.chain.deployment import Deployment

        deployment = Deployment.load(settings.deployment)
    if deployment is not None:
        return (td.Domain(deployment.chain_id, deployment.address("ClaimManager")),
                td.Domain(deployment.chain_id, deployment.address("UsageSettlement")))
    if settings.chain_id is None or not settings.claim_manager or not settings.usage_settlement:
        raise SignerConfigError("give OML_PERMISSION_DEPLOYMENT, or CHAIN_ID, CLAIM_MANAGER and "
                                "USAGE_SETTLEMENT, so σ and vouchers are bound to a deployment")
    return (td.Domain(settings.chain_id, settings.claim_manager),
            td.Domain(settings.chain_id, settings.usage_settlement))


def build_service(settings: Settings, *, private_key: bytes | None = None,
                  is_active_verifier: Callable[[str], bool] | None = None,
                  clock: Callable[[], float] = time.time, migrate: bool = True,
                  deployment=None, w3=None) -> Service:
    """`deployment` and `w3` (tests) stand in for settings.deployment and its RPC URL."""
    if deployment is None and settings.deployment is not None:
        from oml_core.chain.deployment import Deployment

        deployment = Deployment.load(settings.deployment)
    if deployment is not None and w3 is None and (rpc_url := settings.rpc_url or deployment.rpc_url):
        from oml_core.chain.client import connect

        w3 = connect(rpc_url)
    if w3 is not None and clock is time.time:
        # σ issue times are compared on chain with block times (the license's start): stamp them
        # in protocol time, which follows a development chain that was moved ahead.
        from oml_core.chain.clock import ChainClock

        clock = ChainClock.of(w3)
    permission_domain, voucher_domain = domains(settings, deployment)
    signer = Signer(private_key if private_key is not None else load_private_key(settings),
                    permission_domain, voucher_domain)
    if migrate:
        upgrade(settings.database_url)
    db = Database(settings.database_url)
    books = Books(db, signer, clock)
    mirror = settler = None
    if w3 is not None:
        from services.permission.mirror import ChainMirror
        from services.permission.settle import ExitSettler

        settler_key = settings.settler_key.get_secret_value() if settings.settler_key else None
        settler = ExitSettler(db, books, w3, deployment, settler_key, settings.settle_retry_initial_s,
                              settings.settle_retry_max_s)
        mirror = ChainMirror(db, w3, deployment, settings.confirmations, settings.poll_interval_s,
                             settings.log_chunk_blocks, getattr(clock, "observe", None), settler.exit_requested)
        if is_active_verifier is None:
            registry = deployment.contract(w3, "VerifierRegistry")
            is_active_verifier = lambda address: bool(registry.functions.isActive(address).call())
    if is_active_verifier is None:
        is_active_verifier = lambda address: False
    if settings.writer_socket:  # a worker of `serve --workers N`: the writer process stores σ
        from services.permission.writer_link import RemoteWriter

        writer = RemoteWriter(settings.writer_socket)
    else:
        writer = PermissionWriter(db, signer, settings.epoch_seconds, settings.group_commit_max, clock)
    auth = Authenticator(db, settings.service_domain, permission_domain.chain_id,
                         settings.challenge_ttl_s, settings.token_ttl_s, is_active_verifier, clock)
    return Service(settings, db, signer, writer, auth, books, mirror, settler,
                   RateLimiter(settings.challenge_per_minute, settings.challenge_burst),
                   RateLimiter(settings.client_challenge_per_minute, settings.client_challenge_burst))
