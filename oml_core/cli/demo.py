"""`oml demo`: the protocol's story on a fresh local chain (what `make demo` runs)."""
from __future__ import annotations

from oml_core.cli.common import cli_errors, console


@cli_errors
def demo_command() -> None:
    """Start a fresh anvil, deploy the contracts and walk one license through OML 1.0."""
    from oml_core.demo import run_demo

    run_demo(console)
