"""`oml chain ...`: a local development chain."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated
from urllib.parse import urlparse

import typer

from oml_core.chain.errors import ChainError
from oml_core.cli.common import cli_errors, console, fail

chain_app = typer.Typer(help="Local development chain (anvil).", no_args_is_help=True)

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def _port_from_env() -> int | None:
    """OML_RPC_URL, when set, says where the node must listen, so other shells find it."""
    url = os.environ.get("OML_RPC_URL")
    if not url:
        return None
    parsed = urlparse(url)
    if parsed.hostname not in LOOPBACK or not parsed.port:
        raise ChainError(f"OML_RPC_URL={url} is not a loopback URL with a port; "
                         "`oml chain up` starts a local node only (unset OML_RPC_URL for a free port)")
    return parsed.port


@chain_app.command("up")
@cli_errors
def up(
    block_time: Annotated[float | None, typer.Option(help="Seconds between blocks (default: a block per transaction).")] = None,
    chain_id: Annotated[int | None, typer.Option(help="Chain id (anvil's default is 31337).")] = None,
    accounts: Annotated[int, typer.Option(min=1, help="Number of funded dev accounts.")] = 10,
    deploy: Annotated[bool, typer.Option("--deploy", help="Also deploy the contracts and write --out.")] = False,
    out: Annotated[Path, typer.Option(help="Deployment file written with --deploy.")] = Path("build/deployment.json"),
) -> None:
    """Start anvil on a free loopback port (or OML_RPC_URL's port) and run until Ctrl-C."""
    from oml_core.chain.anvil import AnvilNode, answers

    port = _port_from_env()
    if port is not None and answers(f"http://127.0.0.1:{port}", timeout=0.5):
        raise ChainError(f"a node already answers at {os.environ['OML_RPC_URL']}")
    node = AnvilNode(port=port, block_time=block_time, chain_id=chain_id, accounts=accounts)
    with node:
        _print_node(node)
        if deploy:
            from oml_core.cli.deploy import deploy_and_save
            deploy_and_save(node.url, node.private_keys[0], out)
        console.print(f"\nexport OML_RPC_URL={node.url}", style="bold")
        console.print("anvil is running; Ctrl-C stops it.")
        try:
            code = node.process.wait()
        except KeyboardInterrupt:
            console.print("\nstopping anvil")
            return
    raise fail(f"anvil exited unexpectedly (code {code})")


def _print_node(node) -> None:
    # plain lines, not a table: a table truncates the keys on a narrow terminal and they must copy whole
    console.print(f"anvil at [bold]{node.url}[/]  chain id [bold]{node.chain_id}[/]")
    console.print("funded dev accounts (10000 ETH each; public keys, dev chains only):")
    for index, (address, key) in enumerate(zip(node.accounts, node.private_keys)):
        console.print(f"  ({index}) {address}  {key}", markup=False, soft_wrap=True)
