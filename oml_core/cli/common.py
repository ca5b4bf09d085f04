"""What every `oml` command shares: consoles, unit parsing, and one-line errors instead of tracebacks."""
from __future__ import annotations

import functools
import os
import re
from decimal import Decimal, InvalidOperation

import typer
from rich.console import Console

from oml_core.chain.errors import ChainError

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)

_UNITS = {"wei": 0, "gwei": 9, "ether": 18, "eth": 18}


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print one red line (soft_wrap: never broken by the terminal width) and return the exit to raise."""
    first, _, rest = str(message).partition("\n")
    err_console.print(f"error: {first}", style="bold red", markup=False, soft_wrap=True)
    if rest.strip():  # e.g. solc's full diagnostics: context for the red line, not part of it
        err_console.print(rest.rstrip(), markup=False, soft_wrap=True)
    return typer.Exit(code)


def cli_errors(command):
    """Turn expected failures into one red line and exit 1; OML_DEBUG=1 shows tracebacks instead."""
    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except (typer.TyperException, typer.Exit, typer.Abort, KeyboardInterrupt):
            raise  # usage errors and exits: click prints and exits on its own
        except ChainError as exc:
            if os.environ.get("OML_DEBUG"):
                raise
            raise fail(str(exc)) from None
        except Exception as exc:
            if os.environ.get("OML_DEBUG"):
                raise
            raise fail(f"unexpected {type(exc).__name__}: {exc} (OML_DEBUG=1 shows the traceback)") from None
    return wrapper


def parse_wei(text: str) -> int:
    """'1000', '0.1ether', '0.1 eth', '20 gwei' -> wei."""
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([a-zA-Z]*)\s*", str(text))
    unit = (match.group(2).lower() or "wei") if match else ""
    if not match or unit not in _UNITS:
        raise typer.BadParameter(f"{text!r} is not an amount (examples: 1000, 20gwei, 0.1ether)")
    try:
        value = Decimal(match.group(1)) * (Decimal(10) ** _UNITS[unit])
    except InvalidOperation:
        raise typer.BadParameter(f"{text!r} is not an amount") from None
    if value != value.to_integral_value():
        raise typer.BadParameter(f"{text!r} is not a whole number of wei")
    return int(value)


def format_ether(wei: int) -> str:
    return f"{Decimal(wei) / Decimal(10**18):f} ETH"
