"""The `oml` command. Each group lives in its own module and is registered here.

Command modules import heavy libraries (web3, torch) inside the commands, so `oml --help` and
`oml chain up` start in a fraction of a second."""
import sys
from importlib.metadata import entry_points

import typer

from oml_core.cli.chain import chain_app
from oml_core.cli.demo import walkthrough_command
from oml_core.cli.deploy import deploy_command
from oml_core.cli.fingerprint import fingerprint_app
from oml_core.cli.model import model_app
from oml_core.cli.omlize import omlize_command

app = typer.Typer(name="oml", help="OML: fingerprinted models licensed on chain.", no_args_is_help=True,
                  pretty_exceptions_enable=False, add_completion=False)
chain_app.command("walkthrough")(walkthrough_command)
app.add_typer(chain_app, name="chain")
app.command("deploy")(deploy_command)
app.add_typer(model_app, name="model")
app.add_typer(fingerprint_app, name="fingerprint")
app.command("omlize")(omlize_command)

# Services (permission, host, prover, verifier) add their command groups through the
# `oml.commands` entry point group, so oml_core never imports services (DESIGN.md §2).
for _entry in entry_points(group="oml.commands"):
    try:
        command = _entry.load()
        if isinstance(command, typer.Typer):
            app.add_typer(command, name=_entry.name)
        else:  # a single command (`oml up`, `oml demo`)
            app.command(_entry.name)(command)
    except ImportError as exc:  # one broken plugin must not take the other commands down
        print(f"warning: `oml {_entry.name}` is unavailable ({exc})", file=sys.stderr)

if __name__ == "__main__":
    app()
