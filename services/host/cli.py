"""`oml host ...`: run the gateway, download the license's M.oml from its owner.

The host key always comes from the environment (OML_HOST_KEY), never from the command line,
where other users could read it. Registered through the `oml.commands` entry point."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from oml_core.cli.common import cli_errors, console, fail

app = typer.Typer(help="Host: serve a licensed M.oml under σ(q), download it from the owner.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)


def _host_key(value: str | None) -> str:
    if not value:
        raise fail("set OML_HOST_KEY to the license host's private key")
    return value


@app.command("serve")
@cli_errors
def serve(
    model: Annotated[Path, typer.Option(help="M.oml (or any local HF checkpoint) directory.")],
    license_id: Annotated[int, typer.Option(help="The license this host serves under.")],
    permission_url: Annotated[str, typer.Option(envvar="OML_HOST_PERMISSION_URL",
                                                help="Permission service URL.")],
    deployment: Annotated[Path | None, typer.Option(
        envvar="OML_HOST_DEPLOYMENT",
        help="Deployment JSON; with it answers carry signed receipts and the claim watcher runs.")] = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    database_url: Annotated[str | None, typer.Option(
        envvar="OML_HOST_DATABASE_URL", help="Ledger database (default sqlite:///oml-host.db).")] = None,
    model_name: Annotated[str | None, typer.Option(help="Model name reported by /v1/models.")] = None,
    skip_permission_share: Annotated[float | None, typer.Option(
        help="CHEAT: share of queries served without σ (0..1).")] = None,
    system_prompt: Annotated[str | None, typer.Option(help="CHEAT: the host's own system prompt.")] = None,
    refuse_key_like: Annotated[bool, typer.Option(
        "--refuse-key-like", help="CHEAT: refuse queries that look like fingerprint keys.")] = False,
    omit_receipts: Annotated[bool, typer.Option(
        "--omit-receipts", help="CHEAT: answers carry no receipt (no evidence; see docs/SECURITY.md).")] = False,
    seed: Annotated[int | None, typer.Option(help="Seed of the CHEAT knobs' random choices.")] = None,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
    host_key: Annotated[str | None, typer.Option(envvar="OML_HOST_KEY", hidden=True)] = None,
) -> None:
    """Serve /v1/chat/completions with uvicorn; other settings from OML_HOST_* variables (the
    receipt key, if not the host key, from OML_HOST_RECEIPT_KEY)."""
    import logging

    import uvicorn
    from pydantic import ValidationError

    from services.host.app import create_app
    from services.host.config import HostSettings
    from services.host.gateway import build_gateway

    given = {"model": model, "license_id": license_id, "permission_url": permission_url,
             "host_key": _host_key(host_key), "deployment": deployment, "database_url": database_url,
             "model_name": model_name, "skip_permission_share": skip_permission_share,
             "system_prompt": system_prompt, "refuse_key_like": refuse_key_like or None,
             "omit_receipts": omit_receipts or None, "seed": seed}
    try:
        settings = HostSettings(**{k: v for k, v in given.items() if v is not None})
    except ValidationError as exc:
        raise fail("invalid settings: " + "; ".join(e["msg"] for e in exc.errors())) from None
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s")
    uvicorn.run(create_app(build_gateway(settings)), host=host, port=port, log_level=log_level)


@app.command("download")
@cli_errors
def download(
    owner_url: Annotated[str, typer.Option(help="The owner's download service URL.")],
    license_id: Annotated[int, typer.Option(help="Your license.")],
    out: Annotated[Path, typer.Option(help="Directory to create with the M.oml.")],
    deployment: Annotated[Path, typer.Option(envvar="OML_DEPLOYMENT", help="Deployment JSON.")] = Path(
        "build/deployment.json"),
    rpc_url: Annotated[str | None, typer.Option(envvar="OML_RPC_URL", help="JSON-RPC node.")] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing --out directory.")] = False,
    host_key: Annotated[str | None, typer.Option(envvar="OML_HOST_KEY", hidden=True)] = None,
) -> None:
    """Download the license's M.oml and check it against the on-chain weights hash and root."""
    from oml_core.chain.client import connect
    from oml_core.chain.deployment import Deployment
    from oml_core.contracts import OMLContracts
    from services.distribution.download import DownloadError, download_model

    key = _host_key(host_key)
    loaded = Deployment.load(deployment)
    oml = OMLContracts(connect(rpc_url or loaded.rpc_url), loaded)
    try:
        path = download_model(owner_url, license_id, key, oml, out, overwrite=overwrite)
    except DownloadError as exc:
        raise fail(str(exc)) from None
    console.print(f"license {license_id}: M.oml in {path} (weights hash matches the chain)",
                  markup=False, soft_wrap=True)
