"""A local OML stack for `oml up`, the demo, end-to-end tests and benchmarks: a fresh anvil with
the five contracts, a registered model, staked verifiers, licensed hosts, and the permission
service as a real process with its chain mirror on.

    with LocalChain.start(workdir) as chain:
        license_id = chain.add_license(chain.accounts.hosts[0], fingerprints, weights_hash)
        with chain.permission_service() as permission:   # ServiceProcess; .url
            ...
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

from eth_account import Account

from oml_core import typed_data as td
from oml_core.chain.anvil import AnvilNode, advance_time, free_port
from oml_core.chain.client import connect
from oml_core.chain.deployment import ClaimParams, RegistryParams, VerifierParams, deploy
from oml_core.contracts import OMLContracts
from oml_core.fingerprint.commit import commitment_root
from oml_core.fingerprint.record import Fingerprint
from services.common.process import ServiceProcess

ETH = 10**18
# Short windows so a local run sees claims open, get refuted and get executed in seconds.
LOCAL_TERMS = td.Terms(
    price_per_query=10**15, min_stake=10 * ETH, claim_bond=ETH, registration_stake=5 * ETH,
    quota=1_000_000, license_period=365 * 86400, challenge_window=60, unbonding_period=120,
    slash_bps=5_000, claimant_reward_bps=2_000,
)
# Verifier stake counts 90 s after joining (longer than the 60 s window); up() moves the chain on.
LOCAL_VERIFIER_PARAMS = VerifierParams(min_stake=ETH, unbonding_period=86400, penalty_bps=2_000, activation_delay=90)
# Claims open 2 s after their answer (on a real network: minutes, the clocks' worst disagreement).
LOCAL_CLAIM_PARAMS = ClaimParams(clock_skew=2)
# A retiring derived model's stake stays slashable at least as long as LOCAL_TERMS' unbonding.
LOCAL_REGISTRY_PARAMS = RegistryParams(min_retirement_unbonding=120)


@dataclass(frozen=True)
class Accounts:
    """Roles over anvil's funded dev keys (hex strings). The permission signer is a fresh key."""

    admin: str
    owner_b: str
    hosts: list[str]
    verifiers: list[str]
    provers: list[str]
    rogue: str  # opens a false claim in the demo
    settler: str  # pays the gas of the permission service's settlements when a host exits
    signer: bytes = field(default_factory=lambda: secrets.token_bytes(32))

    @classmethod
    def from_keys(cls, keys: list[str], n_hosts: int = 2, n_verifiers: int = 4, n_provers: int = 1) -> Accounts:
        need = 4 + n_hosts + n_verifiers + n_provers
        if len(keys) < need:
            raise ValueError(f"{need} funded accounts needed, the node has {len(keys)}")
        h, v = 2 + n_hosts, 2 + n_hosts + n_verifiers
        return cls(keys[0], keys[1], keys[2:h], keys[h:v], keys[v:v + n_provers], keys[v + n_provers],
                   keys[v + n_provers + 1])


def address_of(key: str | bytes) -> str:
    return Account.from_key(key).address


def weights_hash_bytes32(manifest_hash: str) -> bytes:
    """The on-chain weightsHash of an M.oml: the sha256 digest of oml.json's 'sha256:<hex>'."""
    return bytes.fromhex(manifest_hash.removeprefix("sha256:"))


class LocalChain:
    """anvil + deployed contracts + one registered model (owners admin 3 : owner_b 1) + verifiers."""

    def __init__(self, workdir: Path, terms: td.Terms = LOCAL_TERMS, n_hosts: int = 2,
                 n_verifiers: int = 4, n_provers: int = 1, verifier_params: VerifierParams = LOCAL_VERIFIER_PARAMS,
                 claim_params: ClaimParams = LOCAL_CLAIM_PARAMS):
        self.workdir = Path(workdir)
        self.terms, self.verifier_params, self.claim_params = terms, verifier_params, claim_params
        self.node = AnvilNode(accounts=4 + n_hosts + n_verifiers + n_provers + 1)
        self._counts = (n_hosts, n_verifiers, n_provers)
        self.w3 = self.deployment = self.oml = self.accounts = None
        self.model_id: int | None = None
        self.deployment_path = self.workdir / "deployment.json"
        self._services: list[ServiceProcess] = []

    @classmethod
    def start(cls, workdir: Path, **kwargs) -> LocalChain:
        return cls(workdir, **kwargs).up()

    def up(self) -> Self:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.node.start()
        self.w3 = connect(self.node.url)
        self.accounts = Accounts.from_keys(self.node.private_keys, *self._counts)
        self.deployment = deploy(self.w3, self.accounts.admin, self.verifier_params, rpc_url=self.node.url,
                                 claims=self.claim_params, registry=LOCAL_REGISTRY_PARAMS)
        self.deployment.save(self.deployment_path)
        self.oml = OMLContracts(self.w3, self.deployment)
        a = self.accounts
        self.model_id = self.oml.register_model(a.admin, [address_of(a.admin), address_of(a.owner_b)], [3, 1],
                                                address_of(a.signer), self.terms)
        for key in a.verifiers:  # five times the minimum: one penalty must not deactivate a verifier
            self.oml.join_verifier(key, 5 * self.verifier_params.min_stake)
        # Stake counts only after the activation delay: move the chain past it (the services stamp
        # protocol time, which follows the chain: oml_core/chain/clock.py).
        advance_time(self.w3, self.verifier_params.activation_delay + 1)
        for key in a.verifiers:
            self.oml.activate_verifier(a.admin, address_of(key))
        return self

    def after_clock_skew(self) -> None:
        """Moves the chain one clock skew on, so claims about the answers served so far may open."""
        advance_time(self.w3, self.claim_params.clock_skew + 1)

    def add_license(self, host_key: str, fingerprints: list[Fingerprint], weights_hash: bytes,
                    endpoint: str = "", stake: int = 20 * ETH, escrow: int = ETH) -> int:
        """Stake, acquire, commit the fingerprint root and weights hash (before download), fund escrow."""
        license_id = self.oml.acquire_license(host_key, self.model_id, endpoint or "http://unset", stake)
        self.oml.set_fingerprint_commitment(self.accounts.admin, license_id, commitment_root(fingerprints),
                                            weights_hash)
        if escrow:
            self.oml.deposit_escrow(host_key, license_id, escrow)
        return license_id

    def permission_service(self, database_url: str | None = None, port: int | None = None) -> ServiceProcess:
        """The real `oml permission serve` against this chain (mirror on, no confirmation depth)."""
        port = port or free_port()
        env = {"OML_PERMISSION_DATABASE_URL": database_url or f"sqlite:///{self.workdir}/permission.db",
               "OML_PERMISSION_SIGNER_KEY": self.accounts.signer.hex(),
               "OML_PERMISSION_DEPLOYMENT": str(self.deployment_path),
               "OML_PERMISSION_CONFIRMATIONS": "0", "OML_PERMISSION_POLL_INTERVAL_S": "0.2",
               "OML_PERMISSION_SETTLER_KEY": self.accounts.settler}
        return self.service("permission", ["permission", "serve", "--host", "127.0.0.1", "--port", str(port),
                                           "--log-level", "warning"], f"http://127.0.0.1:{port}", env)

    def service(self, name: str, args: list[str], url: str, env: dict[str, str] | None = None,
                health_path: str = "/healthz") -> ServiceProcess:
        """A service process that this chain stops on exit; not started yet. `.url` is its base URL."""
        process = ServiceProcess(name, args, url + health_path if health_path else None,
                                 self.workdir / "logs" / f"{name}.log", env, url=url)
        self._services.append(process)
        return process

    def stop(self) -> None:
        for process in reversed(self._services):
            process.stop()
        self.node.stop()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc) -> None:
        self.stop()


def sign_in_when_mirrored(client, private_key: str | bytes, role: str, license_id: int | None = None,
                          timeout: float = 20.0) -> dict:
    """PermissionClient.sign_in, retried while the service's chain mirror has not yet seen the
    license (or the verifier): right after a transaction it takes a poll or two."""
    import time

    from services.permission.client import ServiceError

    key = bytes.fromhex(private_key.removeprefix("0x")) if isinstance(private_key, str) else private_key
    deadline = time.monotonic() + timeout
    while True:
        try:
            return client.sign_in(key, role, license_id)
        except ServiceError as exc:
            if exc.status not in (403, 404) or time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def wait_for_escrow(client, license_id: int, amount: int, timeout: float = 20.0) -> None:
    """Waits until the permission service (`client` signed in) has mirrored `amount` of escrow for
    the license: it refuses σ beyond the escrow it has seen, and a deposit's block may be mirrored
    after the license's own."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        row = client.license(license_id)
        if int(row["escrow_deposited"]) - int(row["escrow_withdrawn"]) >= amount:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"the permission service has not mirrored license {license_id}'s escrow")
        time.sleep(0.2)
