"""`oml model ...`: the reference model on this machine."""
from __future__ import annotations

import typer

from oml_core.cli.common import cli_errors, console

model_app = typer.Typer(help="Base models (local files only; nothing is downloaded).", no_args_is_help=True)


@model_app.command("prepare")
@cli_errors
def prepare() -> None:
    """Convert the reference model (SmolLM2-135M-Instruct) to a cached safetensors checkpoint; print its path."""
    from oml_core.model.loading import prepare_reference_model

    console.print(str(prepare_reference_model()), markup=False, soft_wrap=True)
