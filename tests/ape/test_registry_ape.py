"""ape's view of the contracts: compiled by ape-solidity through the solc shim, deployed on
ape-foundry's anvil, exercised with ape accounts (`ape test tests/ape`)."""
import ape
import pytest

ETH = 10**18
TERMS = (10**15, 10 * ETH, ETH, 5 * ETH, 1_000, 86400, 3600, 7200, 5_000, 2_000)


@pytest.fixture(scope="module")
def stack(project, accounts):
    deployer = accounts[0]
    registry = deployer.deploy(project.ModelRegistry)
    verifiers = deployer.deploy(project.VerifierRegistry, ETH, 86400, 2_000)
    licenses = deployer.deploy(project.LicenseManager, registry)
    usage = deployer.deploy(project.UsageSettlement, registry, licenses)
    claims = deployer.deploy(project.ClaimManager, registry, licenses, verifiers, usage)
    for contract in (registry, licenses, usage, verifiers):
        contract.bind(claims, sender=deployer)
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
    tx = licenses.acquireLicense(model_id, "https://h.example", terms_hash, sender=host, value=10 * ETH)
    license_id = tx.events[0].licenseId
    assert licenses.getLicense(license_id).host == host.address
    assert licenses.balance == 10 * ETH


def test_custom_errors_surface_in_ape(stack, accounts, model_id):
    registry, licenses, *_ = stack
    with ape.reverts(licenses.LicenseManager__TermsChanged):
        licenses.acquireLicense(model_id, "https://h.example", b"\2" * 32, sender=accounts[2], value=10 * ETH)
    with ape.reverts(registry.DeployerBound__AlreadyBound):
        registry.bind(accounts[5], sender=accounts[0])
