"""Deploy the OML contracts with ape: `ape run ape_deploy` (scripts/ape_deploy.py forwards here).

Uses ape's first test account and the project's compiled contracts, passes the predicted
ClaimManager and UsageSettlement addresses like `oml_core.chain.deployment.deploy` does, and writes the same deployment JSON
($OML_DEPLOYMENT or build/deployment.json). With ape-foundry's default `host: auto` ape starts
its own anvil and stops it when the script ends; to keep the chain, run `oml chain up` first and
point ape at it (foundry.host in ape-config.yaml, or `--network` with its URL).
"""
from __future__ import annotations

from ape import accounts, networks, project

from oml_core.chain.deployment import (
    CONTRACT_NAMES,
    ClaimParams,
    Deployment,
    RegistryParams,
    VerifierParams,
    default_deployment_path,
    predicted_create_address,
)


def _abi(container) -> list:
    return [entry.model_dump(mode="json", by_alias=True, exclude_none=True) for entry in container.contract_type.abi]


def main() -> None:
    deployer = accounts.test_accounts[0]
    verifier, claim_params, registry_params = VerifierParams(), ClaimParams(), RegistryParams()
    # the ClaimManager is the fifth creation; the four before it are given its address. The
    # UsageSettlement is the fourth: the LicenseManager (third) is given its address.
    claim_manager = predicted_create_address(deployer.address, deployer.nonce + 4)
    usage_settlement = predicted_create_address(deployer.address, deployer.nonce + 3)
    registry = project.ModelRegistry.deploy(claim_manager, *registry_params.as_args(), sender=deployer)
    verifiers = project.VerifierRegistry.deploy(*verifier.as_args(), claim_manager, sender=deployer)
    licenses = project.LicenseManager.deploy(registry, claim_manager, usage_settlement, sender=deployer)
    usage = project.UsageSettlement.deploy(registry, licenses, claim_manager, sender=deployer)
    claims = project.ClaimManager.deploy(registry, licenses, verifiers, usage, *claim_params.as_args(),
                                         sender=deployer)
    instances = dict(zip(CONTRACT_NAMES, (registry, verifiers, licenses, usage, claims)))
    addresses = {name: instance.address for name, instance in instances.items()}
    abis = {name: _abi(getattr(project, name)) for name in CONTRACT_NAMES}
    deployment = Deployment(chain_id=networks.provider.chain_id, rpc_url=getattr(networks.provider, "uri", ""),
                            deployer=deployer.address, block_number=networks.provider.get_receipt(registry.txn_hash).block_number,
                            addresses=addresses, abis=abis,
                            verifier_params=verifier.as_json(), claim_params=claim_params.as_json(),
                            registry_params=registry_params.as_json())
    path = deployment.save(default_deployment_path())
    for name, address in addresses.items():
        print(f"{name:17} {address}")
    print(f"wrote {path}")
