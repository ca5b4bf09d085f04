"""`oml verifier run`: the verifier service (uvicorn). Registered through the `oml.commands` entry
point; heavy imports stay inside the command so that `oml --help` stays fast."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from oml_core.cli.common import cli_errors, fail

app = typer.Typer(help="Verifier: checks prover transcripts, opens claims with a quorum, executes slashes.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)


@app.command("run")
@cli_errors
def run(
    deployment: Annotated[Path, typer.Option(envvar="OML_VERIFIER_DEPLOYMENT",
                                             help="Deployment JSON (oml deploy).")],
    permission_url: Annotated[str, typer.Option(envvar="OML_VERIFIER_PERMISSION_URL",
                                                help="Permission service base URL.")],
    peer: Annotated[list[str] | None, typer.Option(help="A peer verifier's base URL (repeat).")] = None,
    prover: Annotated[list[str] | None, typer.Option(
        help="An address allowed to hand in transcripts (repeat).")] = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8090,
    database_url: Annotated[str | None, typer.Option(
        help="SQLAlchemy URL (default OML_VERIFIER_DATABASE_URL or sqlite:///oml-verifier.db).")] = None,
    rpc_url: Annotated[str | None, typer.Option(help="JSON-RPC node (default: the deployment's).")] = None,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
) -> None:
    """Run the service. The key comes from OML_VERIFIER_KEY; other settings from OML_VERIFIER_*
    variables (services/verifier/config.py). --peer and --prover replace OML_VERIFIER_PEERS and
    OML_VERIFIER_PROVERS (comma-separated) when given."""
    import uvicorn
    from pydantic import ValidationError

    from services.verifier.app import create_app
    from services.verifier.config import Settings

    given = {"deployment": deployment, "permission_url": permission_url, "peers": peer or None,
             "provers": prover or None, "database_url": database_url, "rpc_url": rpc_url}
    try:
        settings = Settings(**{name: value for name, value in given.items() if value is not None})
    except ValidationError as exc:
        raise fail("bad verifier settings: " + "; ".join(
            f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())) from None
    uvicorn.run(create_app(settings), host=host, port=port, log_level=log_level)
