"""One LocalChain (anvil, contracts, 4 staked verifiers), two licenses and one permission service
process for the whole verifier test session."""
from __future__ import annotations

import httpx
import pytest
from verifier_helpers import License, Stack

from oml_core.fingerprint.record import Fingerprint
from services.permission.client import PermissionClient
from services.stack import ETH, LocalChain, sign_in_when_mirrored, wait_for_escrow


@pytest.fixture(scope="session")
def stack(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("verifier-stack")
    with LocalChain.start(workdir) as chain:
        licenses = []
        for name, host in zip(("clean", "slashable"), chain.accounts.hosts):
            fingerprints = [Fingerprint(f"{name} key {i}", f"{name} secret answer {i}") for i in range(40)]
            licenses.append(License(chain.add_license(host, fingerprints, b"\x11" * 32), host, fingerprints))
        chain.after_clock_skew()  # transcripts answer "one skew ago": after the licenses began
        with chain.permission_service() as permission:
            with httpx.Client(base_url=permission.url, timeout=30) as http:  # wait for the chain mirror
                for license in licenses:
                    client = PermissionClient(http)
                    sign_in_when_mirrored(client, license.host_key, "host", license.license_id)
                    wait_for_escrow(client, license.license_id, ETH)
                sign_in_when_mirrored(PermissionClient(http), chain.accounts.verifiers[0], "verifier")
            stack = Stack(chain, *licenses, permission.url, workdir)
            yield stack
            stack.close()
