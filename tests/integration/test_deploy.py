"""Deployment against a real anvil: wiring, repeat deploys, the `oml deploy` CLI and its errors."""
from __future__ import annotations

import subprocess
import sys

import pytest
from typer.testing import CliRunner

from oml_core.chain.anvil import AnvilNode
from oml_core.chain.client import TxSender, connect
from oml_core.chain.deployment import (
    CONTRACT_NAMES,
    Deployment,
    RegistryParams,
    deploy,
    predicted_create_address,
)
from oml_core.chain.errors import ChainError, TransactionFailed
from oml_core.cli.main import app


def assert_wired(w3, d: Deployment) -> None:
    """Each contract points at the others exactly as deployed (getters of contracts/src)."""
    a = d.addresses
    contract = lambda name: d.contract(w3, name)
    assert contract("ModelRegistry").functions.claimManager().call() == a["ClaimManager"]
    assert contract("VerifierRegistry").functions.claimManager().call() == a["ClaimManager"]
    assert contract("LicenseManager").functions.claimManager().call() == a["ClaimManager"]
    assert contract("UsageSettlement").functions.claimManager().call() == a["ClaimManager"]
    assert contract("LicenseManager").functions.wiring().call() == a["ModelRegistry"]
    assert contract("LicenseManager").functions.usageSettlement().call() == a["UsageSettlement"]
    assert tuple(contract("UsageSettlement").functions.wiring().call()) == (a["ModelRegistry"], a["LicenseManager"])
    assert tuple(contract("ClaimManager").functions.wiring().call()) == (
        a["ModelRegistry"], a["LicenseManager"], a["VerifierRegistry"], a["UsageSettlement"])
    for name in CONTRACT_NAMES:
        assert w3.eth.get_code(a[name]), f"{name} has no code"


def test_deployment_is_wired(w3, deployment):
    assert_wired(w3, deployment)
    assert deployment.chain_id == w3.eth.chain_id


def test_deploying_twice_on_a_fresh_chain_gives_two_wired_sets(compiled):
    with AnvilNode() as node:
        w3 = connect(node.url)
        first = deploy(w3, node.private_keys[0], compiled=compiled)
        second = deploy(w3, node.private_keys[0], compiled=compiled)
        assert set(first.addresses.values()).isdisjoint(second.addresses.values())
        assert_wired(w3, first)
        assert_wired(w3, second)
        assert second.block_number > first.block_number


def test_a_claim_manager_over_contracts_that_name_another_refuses_to_deploy(anvil, w3, deployment, compiled):
    """What a wrong address prediction (or a mixed deployment) runs into: a named revert."""
    sender = deployment.sender(w3, anvil.private_keys[3])
    a = deployment.addresses
    stray, _ = sender.deploy(compiled["ModelRegistry"].abi, compiled["ModelRegistry"].bytecode, sender.address, 86400)
    with pytest.raises(TransactionFailed) as caught:
        sender.deploy(compiled["ClaimManager"].abi, compiled["ClaimManager"].bytecode,
                      stray, a["LicenseManager"], a["VerifierRegistry"], a["UsageSettlement"], 120, 1)
    assert caught.value.error_name == "ClaimManager__WiredElsewhere"
    assert caught.value.error_args == {"contract_": stray, "claimManager": sender.address}


def test_a_usage_settlement_over_a_license_manager_that_names_another_refuses_to_deploy(anvil, w3, deployment,
                                                                                       compiled):
    """The LicenseManager sends fees taken from stakes to the UsageSettlement it names, and only
    that one may ask: a second UsageSettlement over it is refused with a named revert."""
    sender = deployment.sender(w3, anvil.private_keys[3])
    a = deployment.addresses
    with pytest.raises(TransactionFailed) as caught:
        sender.deploy(compiled["UsageSettlement"].abi, compiled["UsageSettlement"].bytecode,
                      a["ModelRegistry"], a["LicenseManager"], a["ClaimManager"])
    assert caught.value.error_name == "UsageSettlement__WiredElsewhere"
    assert caught.value.error_args == {"licenseManager": a["LicenseManager"], "usageSettlement": a["UsageSettlement"]}


def test_predicted_addresses_match_create(anvil, w3, compiled):
    sender = TxSender(w3, anvil.private_keys[5])
    nonce = w3.eth.get_transaction_count(sender.address)
    address, _ = sender.deploy(compiled["ModelRegistry"].abi, compiled["ModelRegistry"].bytecode, sender.address, 86400)
    assert address == predicted_create_address(sender.address, nonce)


def test_a_mined_revert_is_replayed_to_name_its_error(anvil, w3, deployment):
    verifiers = deployment.contract(w3, "VerifierRegistry")
    sender = deployment.sender(w3, anvil.private_keys[4])
    with pytest.raises(TransactionFailed, match="VerifierRegistry__InsufficientStake"):
        sender.send(verifiers.functions.join(), value=1, gas=200_000)  # skips estimation: mined, then replayed


def test_revert_arguments_are_decoded(anvil, w3, deployment):
    verifiers = deployment.contract(w3, "VerifierRegistry")
    sender = TxSender(w3, anvil.private_keys[4], deployment.error_decoder())
    with pytest.raises(TransactionFailed) as caught:
        sender.send(verifiers.functions.join(), value=1)
    assert caught.value.error_name == "VerifierRegistry__InsufficientStake"
    assert 1 in caught.value.error_args.values()


def test_saved_deployment_loads_back(tmp_path, w3, deployment):
    loaded = Deployment.load(deployment.save(tmp_path / "d.json"))
    assert loaded == deployment
    assert_wired(w3, loaded)


def test_cli_deploy_writes_a_valid_file(tmp_path, anvil, w3, chain_snapshot):
    out = tmp_path / "deployment.json"
    result = CliRunner().invoke(app, ["deploy", "--rpc-url", anvil.url, "--out", str(out),
                                      "--min-stake", "0.5ether", "--penalty-bps", "2500",
                                      "--min-retirement-unbonding", "86400"])
    assert result.exit_code == 0, result.output
    written = Deployment.load(out)
    assert written.rpc_url == anvil.url and written.chain_id == anvil.chain_id
    assert written.deployer == anvil.accounts[0]
    assert set(written.addresses) == set(CONTRACT_NAMES)
    assert written.verifier_params == {"minStake": 5 * 10**17, "unbondingPeriod": 7 * 86400,
                                       "activationDelay": 3 * 86400, "penaltyBps": 2500}
    assert written.claim_params == {"clockSkew": 120, "enabledKinds": [0, 4]}
    assert written.registry_params == {"minRetirementUnbonding": 86400}
    assert written.contract(w3, "ModelRegistry").functions.minRetirementUnbonding().call() == 86400
    assert tuple(written.contract(w3, "ClaimManager").functions.config().call()) == (120, 0b10001, 3 * 86400 - 1)
    assert_wired(w3, written)
    assert tuple(written.contract(w3, "VerifierRegistry").functions.config().call()) == (
        5 * 10**17, 7 * 86400, 3 * 86400, 2500)


def test_default_deployment_gives_retirements_a_week(w3, deployment):
    """A retiring derived model's stake stays slashable at least 7 days by default."""
    assert deployment.registry_params == {"minRetirementUnbonding": 7 * 86400}
    assert deployment.contract(w3, "ModelRegistry").functions.minRetirementUnbonding().call() == 7 * 86400


@pytest.mark.parametrize("seconds", [0, -1, 2**32, "7 days"])
def test_registry_params_refuse_what_the_constructor_cannot_take(seconds):
    with pytest.raises(ChainError, match="minRetirementUnbonding"):
        RegistryParams(min_retirement_unbonding=seconds)


def test_a_registry_without_a_retirement_minimum_refuses_to_deploy(anvil, w3, deployment, compiled):
    sender = deployment.sender(w3, anvil.private_keys[3])
    with pytest.raises(TransactionFailed) as caught:
        sender.deploy(compiled["ModelRegistry"].abi, compiled["ModelRegistry"].bytecode, sender.address, 0)
    assert caught.value.error_name == "ModelRegistry__ZeroMinRetirementUnbonding"


def test_cli_bad_rpc_url_is_one_line_and_nonzero(tmp_path):
    result = CliRunner().invoke(app, ["deploy", "--rpc-url", "http://127.0.0.1:9", "--out", str(tmp_path / "d.json")])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: no JSON-RPC node answers at http://127.0.0.1:9")
    assert "Traceback" not in result.output
    assert not (tmp_path / "d.json").exists()


def test_cli_revert_is_one_line_naming_the_error(anvil, chain_snapshot, tmp_path):
    result = CliRunner().invoke(app, ["deploy", "--rpc-url", anvil.url, "--out", str(tmp_path / "d.json"),
                                      "--unbonding-period", "0"])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == ["error: deploy VerifierRegistry reverted: VerifierRegistry__InvalidConfig()"]


def test_oml_entry_point_prints_one_red_line_not_a_traceback():
    # a real process: what a user sees on stderr, with the installed console-script code path
    result = subprocess.run([sys.executable, "-m", "oml_core.cli.main", "deploy", "--rpc-url", "http://127.0.0.1:9"],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        "error: no JSON-RPC node answers at http://127.0.0.1:9 ([Errno 111] Connection refused)"]
