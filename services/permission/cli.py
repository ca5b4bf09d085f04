"""`oml permission ...`: run the service, settle a voucher, make a signer keystore.

Registered through the `oml.commands` entry point (pyproject.toml); heavy imports stay inside
the commands so that `oml --help` stays fast."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from oml_core.cli.common import cli_errors, console, fail

app = typer.Typer(help="Permission service: σ(q) for every query, usage books, vouchers.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)


@app.command("serve")
@cli_errors
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8081,
    database_url: Annotated[str | None, typer.Option(
        envvar="OML_PERMISSION_DATABASE_URL", help="SQLAlchemy URL (default sqlite:///oml-permission.db).")] = None,
    deployment: Annotated[Path | None, typer.Option(
        envvar="OML_PERMISSION_DEPLOYMENT", help="Deployment JSON (oml deploy).")] = None,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
    workers: Annotated[int, typer.Option(
        min=1, max=64, help="Worker processes on one port; they share the database like replicas.")] = 1,
) -> None:
    """Run the service with uvicorn. The signer key comes from OML_PERMISSION_KEYSTORE (+
    OML_PERMISSION_KEYSTORE_PASSWORD) or OML_PERMISSION_SIGNER_KEY; other settings from
    OML_PERMISSION_* variables (services/permission/config.py)."""
    import shutil
    import tempfile

    import uvicorn

    from services.common.workers import serve_workers
    from services.permission.app import create_app
    from services.permission.config import Settings
    from services.permission.signer import SignerConfigError
    from services.permission.writer_link import run_writer_process

    overrides = {k: v for k, v in {"database_url": database_url, "deployment": deployment}.items() if v}
    try:
        app_ = create_app(Settings(**overrides))  # also checks the settings before any worker starts
    except SignerConfigError as exc:
        raise fail(str(exc)) from None
    if workers == 1:
        uvicorn.run(app_, host=host, port=port, log_level=log_level)
        return
    app_.state.service.stop()  # each worker builds its own service from the environment
    env = {f"OML_PERMISSION_{name.upper()}": str(value) for name, value in overrides.items()}
    # One writer process stores every σ; the workers only serve HTTP (writer_link.py says why).
    private = tempfile.mkdtemp(prefix="oml-permission-")  # mode 0700: only this user reaches the socket
    socket_path = f"{private}/writer.sock"
    try:
        status = serve_workers("services.permission.app:create_app", host, port, workers, log_level,
                               companions=[(run_writer_process, (socket_path,))],
                               env={**env, "OML_PERMISSION_WRITER_SOCKET": socket_path})
    except OSError as exc:
        raise fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    finally:
        shutil.rmtree(private, ignore_errors=True)
    if status:
        raise typer.Exit(status)


@app.command("settle")
@cli_errors
def settle(
    voucher: Annotated[Path | None, typer.Option(help="Voucher JSON as the service returns it.")] = None,
    url: Annotated[str | None, typer.Option(help="Service URL, to fetch the latest voucher instead.")] = None,
    license_id: Annotated[int | None, typer.Option(help="License whose latest voucher to fetch.")] = None,
    role: Annotated[str, typer.Option(help="Sign in to the service as host or verifier.")] = "host",
    private_key: Annotated[str | None, typer.Option(
        envvar="OML_PRIVATE_KEY", help="Key that signs in (with --url) and sends the transaction.")] = None,
    deployment: Annotated[Path, typer.Option(envvar="OML_DEPLOYMENT", help="Deployment JSON.")] = Path(
        "build/deployment.json"),
    rpc_url: Annotated[str | None, typer.Option(envvar="OML_RPC_URL", help="JSON-RPC node.")] = None,
) -> None:
    """Send UsageSettlement.settle for a signed voucher (anyone may; it pays only what is new)."""
    from services.permission.settle import settle_voucher

    body = _signed(voucher, url, license_id, role, private_key, lambda client, lid: client.sign_voucher(lid))
    receipt = settle_voucher(*_chain(deployment, rpc_url), private_key, body)
    console.print(f"settled license {body['license_id']} up to {body['cumulative_queries']} queries "
                  f"in tx 0x{bytes(receipt['transactionHash']).hex()}", markup=False, soft_wrap=True)


@app.command("close")
@cli_errors
def close(
    closure: Annotated[Path | None, typer.Option(help="Closure JSON as the service returns it.")] = None,
    url: Annotated[str | None, typer.Option(help="Service URL, to ask it for the closure instead.")] = None,
    license_id: Annotated[int | None, typer.Option(help="The exiting license whose usage to close.")] = None,
    private_key: Annotated[str | None, typer.Option(
        envvar="OML_PRIVATE_KEY", help="The host's key: signs in (with --url) and sends the transaction.")] = None,
    deployment: Annotated[Path, typer.Option(envvar="OML_DEPLOYMENT", help="Deployment JSON.")] = Path(
        "build/deployment.json"),
    rpc_url: Annotated[str | None, typer.Option(envvar="OML_RPC_URL", help="JSON-RPC node.")] = None,
) -> None:
    """Send UsageSettlement.close for an exiting license whose σ are all settled: its host may then
    withdraw its stake when the unbonding ends (the service's exit settler does this itself when it
    has a settler key)."""
    from services.permission.settle import close_usage

    body = _signed(closure, url, license_id, "host", private_key, lambda client, lid: client.sign_closure(lid))
    receipt = close_usage(*_chain(deployment, rpc_url), private_key, body)
    console.print(f"closed license {body['license_id']}'s usage account at {body['cumulative_queries']} σ "
                  f"in tx 0x{bytes(receipt['transactionHash']).hex()}", markup=False, soft_wrap=True)


def _signed(path: Path | None, url: str | None, license_id: int | None, role: str, private_key: str | None,
            fetch) -> dict:
    """A signed message from a JSON file, or fetched from the service signed in as `role`."""
    if private_key is None:
        raise fail("give --private-key (or OML_PRIVATE_KEY): it pays the gas")
    if path is not None:
        return json.loads(path.read_text())
    if not (url and license_id is not None):
        raise fail("give a JSON file, or --url and --license-id")
    import httpx

    from services.permission.client import PermissionClient, ServiceError

    with httpx.Client(base_url=url, timeout=30) as http:
        client = PermissionClient(http)
        try:
            client.sign_in(bytes.fromhex(private_key.removeprefix("0x")), role,
                           license_id if role == "host" else None)
            return fetch(client, license_id)
        except ServiceError as exc:
            raise fail(f"the permission service refused: {exc}") from None


def _chain(deployment: Path, rpc_url: str | None) -> tuple:
    from oml_core.chain.client import connect
    from oml_core.chain.deployment import Deployment

    loaded = Deployment.load(deployment)
    return connect(rpc_url or loaded.rpc_url), loaded


@app.command("keystore")
@cli_errors
def keystore(
    out: Annotated[Path, typer.Argument(help="Keystore file to write.")],
    private_key: Annotated[str | None, typer.Option(
        envvar="OML_PERMISSION_SIGNER_KEY", help="Key to store (default: a new random key).")] = None,
    password: Annotated[str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True,
                                          envvar="OML_PERMISSION_KEYSTORE_PASSWORD")] = "",
) -> None:
    """Write an encrypted eth-account keystore for the permission signer."""
    import secrets

    from eth_account import Account

    from services.permission.signer import write_keystore

    key = bytes.fromhex(private_key.removeprefix("0x")) if private_key else secrets.token_bytes(32)
    out.write_text(json.dumps(write_keystore(key, password)))
    out.chmod(0o600)
    console.print(f"wrote {out} for signer {Account.from_key(key).address}", markup=False, soft_wrap=True)
