"""What a prover reads on chain: a license's fingerprint root, to check the keys it loads against
what the owner committed before the host downloaded its copy; and the endpoint each licensed host
registered, which is where a prover posing as a user sends its queries."""
from __future__ import annotations

import logging
from pathlib import Path

from services.prover.errors import FingerprintsRejected
from services.prover.hosts import Target

log = logging.getLogger(__name__)

# LicenseStatus (contracts/src/lib/OMLTypes.sol): an Exiting license can still be slashed during
# its unbonding period, so its host is still probed; None and Exited are not.
PROBED_STATUSES = {1: "Active", 2: "Exiting"}


def _contracts(deployment: Path, rpc_url: str | None):
    from oml_core.chain.client import connect
    from oml_core.chain.deployment import Deployment
    from oml_core.contracts import OMLContracts

    loaded = Deployment.load(deployment)
    return OMLContracts(connect(rpc_url or loaded.rpc_url), loaded)


def license_targets(deployment: Path, license_ids: list[int], rpc_url: str | None = None,
                    model: str = "oml") -> list[Target]:
    """The registered endpoint of every license in `license_ids` that may still be slashed.

    Endpoints are what hosts told the chain: a malformed one is skipped with a warning (a host
    that cannot be reached at its own endpoint is the owners' matter, not a prover crash). An
    endpoint may end in /v1 (the API root) or not (the gateway's base URL)."""
    contracts, targets = _contracts(deployment, rpc_url), []
    for license_id in license_ids:
        record = contracts.license(license_id)
        if int(record["status"]) not in PROBED_STATUSES:
            continue
        url = str(record["endpoint"]).strip().rstrip("/").removesuffix("/v1")
        try:
            targets.append(Target(license_id, url, model))
        except ValueError as exc:
            log.warning("license %d: not probing its endpoint: %s", license_id, exc)
    return targets


def license_root(deployment: Path, license_id: int, rpc_url: str | None = None) -> bytes:
    contracts = _contracts(deployment, rpc_url)
    root = bytes(contracts.license(license_id)["fingerprintRoot"])
    if root == bytes(32):
        raise FingerprintsRejected(f"license {license_id} has no fingerprint root on chain yet")
    return root
