"""Who may download a license's M.oml: its on-chain host, while the license is Active and
unexpired. Read from LicenseManager on every request (no cache: a slashed-out or exited host is
refused at once)."""
from __future__ import annotations

import time

from web3.exceptions import ContractLogicError

from oml_core.contracts import OMLContracts
from services.common.errors import Refused

LICENSE_ACTIVE = 1  # LicenseStatus.Active (contracts/src/lib/OMLTypes.sol)


class DistributionError(Refused):
    """Why a download is refused."""


class LicenseGate:
    def __init__(self, oml: OMLContracts):
        self.oml = oml

    def license(self, license_id: int) -> dict:
        try:
            return self.oml.license(license_id)
        except ContractLogicError:
            raise DistributionError(404, "unknown_license", f"license {license_id} does not exist on chain") from None
        except Exception as exc:  # noqa: BLE001 - the node is down or unreachable
            raise DistributionError(503, "chain_unavailable", f"cannot read license {license_id}: "
                                                              f"{type(exc).__name__}") from None

    def check(self, license_id: int, caller: str) -> dict:
        """The license record when `caller` may download its model; DistributionError otherwise."""
        record = self.license(license_id)
        if record["host"].lower() != caller.lower():
            raise DistributionError(403, "not_license_host", f"{caller} is not the host of license {license_id}")
        if record["status"] != LICENSE_ACTIVE:
            raise DistributionError(403, "license_not_active", f"license {license_id} is not active")
        if record["expiresAt"] <= time.time():
            raise DistributionError(403, "license_expired", f"license {license_id} expired at {record['expiresAt']}")
        return record
