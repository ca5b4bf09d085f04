"""`oml owner ...`: the owner's side of distribution (serve each license's M.oml to its host).

Registered through the `oml.commands` entry point (pyproject.toml); heavy imports stay inside
the commands so that `oml --help` stays fast."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from oml_core.cli.common import cli_errors, fail

app = typer.Typer(help="Model owner: serve each license's M.oml to that license's host.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)


@app.command("serve")
@cli_errors
def serve(
    models_dir: Annotated[Path, typer.Option(envvar="OML_OWNER_MODELS_DIR",
                                             help="Directory of license-<id>/ M.oml directories.")],
    deployment: Annotated[Path, typer.Option(envvar="OML_OWNER_DEPLOYMENT", help="Deployment JSON.")],
    rpc_url: Annotated[str | None, typer.Option(envvar="OML_RPC_URL", help="JSON-RPC node.")] = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8090,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
) -> None:
    """Run the download service with uvicorn."""
    import uvicorn
    from pydantic import ValidationError

    from oml_core.chain.client import connect
    from oml_core.chain.deployment import Deployment
    from oml_core.contracts import OMLContracts
    from services.distribution.app import create_app
    from services.distribution.config import OwnerSettings

    try:
        settings = OwnerSettings(models_dir=models_dir, deployment=deployment, rpc_url=rpc_url)
    except ValidationError as exc:
        raise fail(f"invalid settings: {exc.errors()[0]['msg']}") from None
    loaded = Deployment.load(settings.deployment)
    oml = OMLContracts(connect(settings.rpc_url or loaded.rpc_url), loaded)
    uvicorn.run(create_app(settings.models_dir, oml, settings.max_skew_s), host=host, port=port,
                log_level=log_level)


@app.command("publish")
@cli_errors
def publish(
    license_id: Annotated[int, typer.Option(min=0, help="License the M.oml was built for.")],
    oml_dir: Annotated[Path, typer.Option(help="The license's M.oml directory (oml omlize --license-id).")],
    models_dir: Annotated[Path, typer.Option(envvar="OML_OWNER_MODELS_DIR",
                                             help="Directory the download service serves.")],
    deployment: Annotated[Path, typer.Option(envvar="OML_OWNER_DEPLOYMENT", help="Deployment JSON.")],
    rpc_url: Annotated[str | None, typer.Option(envvar="OML_RPC_URL", help="JSON-RPC node.")] = None,
    admin_key: Annotated[str | None, typer.Option(envvar="OML_OWNER_KEY", hidden=True)] = None,
) -> None:
    """Commit an M.oml's fingerprint root and weights hash on chain for its license (the model's
    admin key from OML_OWNER_KEY) and put it where `oml owner serve` serves it."""
    import shutil

    from oml_core.chain.client import connect
    from oml_core.chain.deployment import Deployment
    from oml_core.contracts import OMLContracts
    from oml_core.omlize import verify_oml
    from services.distribution.publish import commit_license_model, license_dir

    if not admin_key:
        raise fail("set OML_OWNER_KEY to the model admin's private key")
    manifest = verify_oml(oml_dir)
    if manifest.license_id != license_id:
        raise fail(f"{oml_dir} was built for license {manifest.license_id}, not {license_id}")
    loaded = Deployment.load(deployment)
    oml = OMLContracts(connect(rpc_url or loaded.rpc_url), loaded)
    target = license_dir(models_dir, license_id)
    if target.resolve() != Path(oml_dir).resolve():
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(oml_dir, target)
    commit_license_model(oml, admin_key, license_id, manifest)
    typer.echo(f"license {license_id}: root {manifest.fingerprint_root} and {manifest.weights_hash} on chain; "
               f"served from {target}")
