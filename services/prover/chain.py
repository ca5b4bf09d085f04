"""The one chain read a prover needs: a license's fingerprint root, to check the keys it loads
against what the owner committed on chain before the host downloaded its copy."""
from __future__ import annotations

from pathlib import Path

from services.prover.errors import FingerprintsRejected


def license_root(deployment: Path, license_id: int, rpc_url: str | None = None) -> bytes:
    from oml_core.chain.client import connect
    from oml_core.chain.deployment import Deployment
    from oml_core.contracts import OMLContracts

    loaded = Deployment.load(deployment)
    contracts = OMLContracts(connect(rpc_url or loaded.rpc_url), loaded)
    root = bytes(contracts.license(license_id)["fingerprintRoot"])
    if root == bytes(32):
        raise FingerprintsRejected(f"license {license_id} has no fingerprint root on chain yet")
    return root
