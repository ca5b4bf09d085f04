"""ape's view of the contracts: compiled by ape-solidity through the solc shim, deployed on
ape-foundry's anvil, exercised with ape accounts (`ape test tests/ape`)."""
import ape
import pytest

from oml_core.chain.deployment import predicted_create_address

ETH = 10**18
TERMS = (10**15, 10 * ETH, ETH, 5 * ETH, 1_000, 86400, 3600, 7200, 5_000, 2_000)


@pytest.fixture(scope="module")
def stack(project, accounts):
    deployer = accounts[0]
    claim_manager = predicted_create_address(deployer.address, deployer.nonce + 4)
    usage_settlement = predicted_create_address(deployer.address, deployer.nonce + 3)
    registry = deployer.deploy(project.ModelRegistry, claim_manager, 7200)
    verifiers = deployer.deploy(project.VerifierRegistry, ETH, 86400, 7200, 2_000, claim_manager)
    licenses = deployer.deploy(project.LicenseManager, registry, claim_manager, usage_settlement)
    usage = deployer.deploy(project.UsageSettlement, registry, licenses, claim_manager)
    claims = deployer.deploy(project.ClaimManager, registry, licenses, verifiers, usage, 120, 1)
    assert claims.address == claim_manager
    assert usage.address == usage_settlement == licenses.usageSettlement()
    return registry, licenses, usage, verifiers, claims


@pytest.fixture
def model_id(stack, accounts):
    registry = stack[0]
    tx = registry.registerModel([accounts[1], accounts[3]], [3, 1], accounts[4], TERMS, b"\0" * 32, b"\1" * 32,
                                sender=accounts[1])
    return tx.events[0].modelId


def test_register_and_license(stack, accounts, model_id):
    registry, licenses, *_ = stack
    host = accounts[2]
    _, _, terms_hash = registry.currentTerms(model_id)
    tx = licenses.acquireLicense(model_id, "https://h.example", terms_hash, accounts[6], sender=host, value=10 * ETH)
    license_id = tx.events[0].licenseId
    assert licenses.getLicense(license_id).host == host.address
    assert licenses.getLicense(license_id).receiptSigner == accounts[6].address
    assert licenses.balance == 10 * ETH


def test_custom_errors_surface_in_ape(stack, accounts, model_id, project):
    licenses = stack[1]
    with ape.reverts(licenses.LicenseManager__TermsChanged):
        licenses.acquireLicense(model_id, "https://h.example", b"\2" * 32, accounts[2], sender=accounts[2],
                                value=10 * ETH)
    # a ClaimManager over contracts that answer to another one refuses to deploy
    other = accounts[0].deploy(project.ModelRegistry, accounts[5], 7200)
    _, licenses_, usage, verifiers, _ = stack
    with ape.reverts(project.ClaimManager.ClaimManager__WiredElsewhere):
        accounts[0].deploy(project.ClaimManager, other, licenses_, verifiers, usage, 120, 1)
    # and a UsageSettlement over a LicenseManager that names another one
    registry = stack[0]
    with ape.reverts(project.UsageSettlement.UsageSettlement__WiredElsewhere):
        accounts[0].deploy(project.UsageSettlement, registry, licenses_, stack[4])
