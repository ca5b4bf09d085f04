"""`oml demo` (the end-to-end story, what `make demo` runs) and `oml up` (the same topology,
left running). Registered as single commands through the `oml.commands` entry points."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from oml_core.cli.common import cli_errors, console

ProfileOption = Annotated[str, typer.Option(
    help="Model: 'smollm2' (the real SmolLM2-135M-Instruct) or 'tiny' (a small random model, for tests).")]


@cli_errors
def demo(
    profile: ProfileOption = "smollm2",
    workdir: Annotated[Path | None, typer.Option(help="Where logs, databases and models go (default: a temp dir).")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the fingerprints and of the cheating host.")] = 7,
) -> None:
    """The whole OML story on a fresh local network: OMLize, license, serve, probe, slash, refute, settle."""
    from services.scenario.demo import run_demo

    run_demo(profile, workdir, console, seed)


@cli_errors
def up(
    profile: ProfileOption = "smollm2",
    workdir: Annotated[Path, typer.Option(help="Where logs, databases and models go.")] = Path("build/oml-up"),
    hosts: Annotated[int, typer.Option(min=1, max=4, help="Licensed hosts to run.")] = 2,
    verifiers: Annotated[int, typer.Option(min=3, max=4, help="Verifier processes.")] = 3,
    seed: Annotated[int, typer.Option(help="Seed of the fingerprints.")] = 7,
) -> None:
    """Start anvil, the permission service, the download service, hosts, verifiers and a prover,
    print where they listen, and keep them running until Ctrl-C."""
    from services.scenario.up import run_up

    run_up(profile, workdir, hosts, verifiers, seed, console)
