"""`oml chain walkthrough`: the on-chain half of the protocol on a fresh anvil, with stand-in
fingerprints and no services (the full story is `oml demo`, in services/scenario)."""
from __future__ import annotations

from oml_core.cli.common import cli_errors, console


@cli_errors
def walkthrough_command() -> None:
    """Start a fresh anvil, deploy the contracts and walk one license through OML 1.0 on chain."""
    from oml_core.demo import run_demo

    run_demo(console)
