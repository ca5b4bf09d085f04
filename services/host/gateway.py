"""The gateway's parts wired together: model, σ batcher, ledger, cheat policy, claim watcher.

`build_gateway(settings)` makes them from settings; tests pass their own generator (a tiny
model already in memory) or leave the watcher off.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

from services.host.cheats import CheatPolicy
from services.host.config import HostSettings
from services.host.generation import Generator
from services.host.ledger import Ledger
from services.host.metrics import GatewayMetrics
from services.host.permission_guard import PermissionGuard
from services.host.permits import PermissionBatcher, PermissionSource
from services.host.receipts import ReceiptSigner
from services.host.watcher import ClaimWatcher

log = logging.getLogger(__name__)


@dataclass
class Gateway:
    settings: HostSettings
    generator: Generator
    ledger: Ledger
    source: PermissionSource
    batcher: PermissionBatcher
    cheats: CheatPolicy
    metrics: GatewayMetrics
    watcher: ClaimWatcher | None = None
    receipts: ReceiptSigner | None = None  # None: no deployment, so no domain to sign receipts in
    guard: PermissionGuard | None = None  # checks σ before serving (with the deployment)

    @property
    def license_id(self) -> int:
        return self.settings.license_id

    def start(self) -> None:
        if self.watcher is not None:
            self.watcher.start()

    def stop(self) -> None:
        if self.watcher is not None:
            self.watcher.stop()
        self.source.close()
        self.ledger.dispose()


def _chain(settings: HostSettings):
    from oml_core.chain.client import connect
    from oml_core.chain.deployment import Deployment
    from oml_core.contracts import OMLContracts

    deployment = Deployment.load(settings.deployment)
    return OMLContracts(connect(settings.rpc_url or deployment.rpc_url), deployment)


def build_watcher(settings: HostSettings, ledger: Ledger, source: PermissionSource, oml=None,
                  metrics: GatewayMetrics | None = None) -> ClaimWatcher:
    """`metrics`: the gateway's, so that /metrics shows the claims at risk and the failed attempts."""
    oml = oml or _chain(settings)
    return ClaimWatcher(oml, ledger, settings.license_id, "0x" + settings.key_bytes.hex(), lookup=source.lookup,
                        interval_s=settings.watch_interval_s, chunk_blocks=settings.log_chunk_blocks,
                        metrics=metrics)


def build_receipts(settings: HostSettings, oml, clock) -> ReceiptSigner | None:
    """Receipts are signed in ClaimManager's EIP-712 domain, so they need the deployment."""
    if settings.omit_receipts:
        return None
    if oml is None:
        log.warning("no deployment configured: answers carry no receipt, so no claim can rest on them")
        return None
    return ReceiptSigner(settings.license_id, settings.receipt_key_bytes, oml.receipt_domain, clock)


def build_gateway(settings: HostSettings, generator: Generator | None = None, watch: bool = True) -> Gateway:
    """Loads the model (unless given) and connects the parts; with a deployment configured the
    gateway signs answer receipts, and the watcher runs when `watch` is true."""
    ledger = Ledger(settings.database_url)
    source = PermissionSource(settings.permission_url, settings.key_bytes, settings.license_id,
                              settings.permission_timeout_s)
    batcher = PermissionBatcher(source, ledger, settings.batch_window_ms / 1000, settings.max_batch)
    cheats = CheatPolicy(settings.skip_permission_share, settings.system_prompt, settings.refuse_key_like,
                         settings.seed)
    oml = _chain(settings) if settings.deployment else None
    metrics = GatewayMetrics()
    watcher = build_watcher(settings, ledger, source, oml, metrics) if watch and oml is not None else None
    clock = guard = None
    if oml is not None:
        from oml_core.chain.clock import ChainClock

        clock = ChainClock.of(oml.w3)
        guard = PermissionGuard.of(oml, settings.license_id, clock)
    return Gateway(settings, generator or Generator.load(settings.model, settings.device), ledger, source,
                   batcher, cheats, metrics, watcher, build_receipts(settings, oml, clock), guard)
