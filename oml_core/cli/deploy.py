"""`oml deploy`: compile contracts/src and deploy the five contracts, wired, to an RPC node."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from oml_core.chain.anvil import DEV_PRIVATE_KEY
from oml_core.cli.common import cli_errors, console, err_console, parse_wei

if TYPE_CHECKING:  # web3 costs ~0.6 s to import: only commands that use it pay for it
    from oml_core.chain.deployment import ClaimParams, Deployment, RegistryParams, VerifierParams

ANVIL_CHAIN_ID = 31337


def deploy_and_save(rpc_url: str, private_key: str, out: Path,
                    verifier: VerifierParams | None = None, recompile: bool = False,
                    claims: ClaimParams | None = None, registry: RegistryParams | None = None) -> Deployment:
    from oml_core.chain.client import connect
    from oml_core.chain.compiler import compile_contracts
    from oml_core.chain.deployment import ClaimParams, RegistryParams, VerifierParams, deploy

    w3 = connect(rpc_url)
    if private_key.lower().removeprefix("0x") == DEV_PRIVATE_KEY[2:] and w3.eth.chain_id != ANVIL_CHAIN_ID:
        err_console.print(f"warning: deploying with anvil's public dev key on chain {w3.eth.chain_id}",
                          style="yellow", markup=False, soft_wrap=True)
    compiled = compile_contracts(force=recompile)
    deployment = deploy(w3, private_key, verifier or VerifierParams(), compiled, rpc_url=rpc_url,
                        claims=claims or ClaimParams(), registry=registry or RegistryParams())
    path = deployment.save(out)
    _print_deployment(deployment, path)
    return deployment


def _print_deployment(deployment: Deployment, path: Path) -> None:
    from rich.table import Table

    table = Table("contract", "address", title=f"chain {deployment.chain_id}, block {deployment.block_number}")
    for name, address in deployment.addresses.items():
        table.add_row(name, address)
    console.print(table)
    console.print(f"deployer {deployment.deployer}; wrote {path}", markup=False, soft_wrap=True)


@cli_errors
def deploy_command(
    rpc_url: Annotated[str, typer.Option(envvar="OML_RPC_URL", help="JSON-RPC endpoint.")] = "http://127.0.0.1:8545",
    private_key: Annotated[str, typer.Option(envvar="OML_PRIVATE_KEY", show_default=False,
                                             help="Deployer key (default: anvil's first dev account).")] = DEV_PRIVATE_KEY,
    out: Annotated[Path, typer.Option(envvar="OML_DEPLOYMENT", help="Deployment file to write.")] = Path("build/deployment.json"),
    min_stake: Annotated[str, typer.Option(callback=parse_wei,
                                           help="VerifierRegistry minStake (wei, or with a unit: 20gwei, 0.1ether).")] = "0.1ether",
    unbonding_period: Annotated[int, typer.Option(min=0, help="VerifierRegistry unbondingPeriod, seconds.")] = 7 * 86400,
    penalty_bps: Annotated[int, typer.Option(min=0, max=10_000, help="VerifierRegistry penaltyBps (1/100 %).")] = 1000,
    activation_delay: Annotated[int, typer.Option(min=1, help="VerifierRegistry activationDelay, seconds (longer than any challenge window).")] = 3 * 86400,
    clock_skew: Annotated[int, typer.Option(min=1, help="ClaimManager clockSkew, seconds a claim waits after its answer.")] = 120,
    min_retirement_unbonding: Annotated[int, typer.Option(min=1, help="ModelRegistry minRetirementUnbonding, seconds a retiring derived model's stake stays slashable at least.")] = 7 * 86400,
    recompile: Annotated[bool, typer.Option("--recompile", help="Ignore build/contracts.json and compile again.")] = False,
) -> None:
    """Deploy ModelRegistry, VerifierRegistry, LicenseManager, UsageSettlement, ClaimManager (the first four answer to the fifth)."""
    from oml_core.chain.deployment import ClaimParams, RegistryParams, VerifierParams

    verifier = VerifierParams(int(min_stake), unbonding_period, penalty_bps, activation_delay)
    deploy_and_save(rpc_url, private_key, out, verifier, recompile, ClaimParams(clock_skew=clock_skew),
                    RegistryParams(min_retirement_unbonding=min_retirement_unbonding))
