"""`oml omlize`: package a fingerprinted model as M.oml."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from oml_core.cli.common import cli_errors, console

PASSPHRASE_HELP = "Passphrase of an encrypted fingerprint file (or OML_FINGERPRINT_PASSPHRASE / OML_FINGERPRINT_KEY)."


def _json_file(path: Path | None) -> dict:
    return json.loads(path.read_text()) if path else {}


@cli_errors
def omlize_command(
    model: Annotated[str, typer.Option(help="'smollm2' or a local checkpoint directory (the fingerprinted model).")],
    fingerprints: Annotated[Path, typer.Option(exists=True, dir_okay=False, help="The fingerprints injected into it (JSONL, plain or encrypted).")],
    out: Annotated[Path, typer.Option(help="Output M.oml directory.")],
    model_id: Annotated[str, typer.Option(help="Model id recorded in oml.json.")],
    license_id: Annotated[int | None, typer.Option(help="License this copy is built for.")] = None,
    family: Annotated[str, typer.Option(help="Model family (default: the config's model_type).")] = "",
    generation_config: Annotated[Path | None, typer.Option(exists=True, dir_okay=False, help="JSON: how the fingerprints were generated (secrets are dropped).")] = None,
    training_config: Annotated[Path | None, typer.Option(exists=True, dir_okay=False, help="JSON: how they were injected.")] = None,
    passphrase: Annotated[str | None, typer.Option(envvar="OML_FINGERPRINT_PASSPHRASE", help=PASSPHRASE_HELP)] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing --out.")] = False,
) -> None:
    """Write M.oml = safetensors weights + tokenizer + oml.json (fingerprint root; no secrets)."""
    from oml_core.fingerprint.secrets_store import load_fingerprints
    from oml_core.model.loading import load_model
    from oml_core.omlize import omlize

    fps = load_fingerprints(fingerprints, passphrase)
    loaded_model, tokenizer = load_model(model, device="cpu")
    manifest = omlize(loaded_model, tokenizer, fps, out, model_id, family, license_id,
                      _json_file(generation_config), _json_file(training_config), overwrite)
    console.print(f"M.oml written to {out}", markup=False, soft_wrap=True)
    console.print(f"weights {manifest.weights_hash}\nfingerprint root {manifest.fingerprint_root} "
                  f"({manifest.fingerprint_count} fingerprints)", markup=False, soft_wrap=True)
