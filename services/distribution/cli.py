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
