"""LocalChain: the stack every end-to-end test, `oml up` and the demo start from."""
import httpx

from oml_core.fingerprint.commit import commitment_root
from oml_core.fingerprint.record import Fingerprint
from services.permission.client import PermissionClient
from services.stack import LocalChain, address_of, sign_in_when_mirrored


def test_local_chain_licenses_a_host_and_the_permission_service_signs_for_it(tmp_path):
    fps = [Fingerprint(f"key {i}", f"answer {i}") for i in range(4)]
    with LocalChain.start(tmp_path) as chain:
        assert chain.oml.verifiers.functions.activeCount().call() == 4
        host = chain.accounts.hosts[0]
        license_id = chain.add_license(host, fps, b"\x11" * 32)
        record = chain.oml.license(license_id)
        assert record["fingerprintRoot"] == commitment_root(fps) and record["host"] == address_of(host)
        with chain.permission_service() as service:
            client = PermissionClient(httpx.Client(base_url=service.url, timeout=10))
            sign_in_when_mirrored(client, host, "host", license_id)
            sigma = client.permission(license_id, fps[0].query_hash)
            assert sigma["sequence"] == 1
        assert not service.running
