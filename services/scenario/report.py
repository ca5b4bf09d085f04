"""The demo's closing report: chain state (stakes, balances, claims) and the usage books."""
from __future__ import annotations

from rich.console import Console
from rich.table import Table

from services.stack import ETH, address_of

LICENSE_STATUS = ("None", "Active", "Exiting", "Exited")  # OMLTypes.LicenseStatus


def eth(wei: int) -> str:
    return f"{wei / ETH:.4f} ETH"


def licenses_table(oml, hosts: dict[str, int], issued: dict[int, int]) -> Table:
    """hosts: name -> license id; issued: license id -> σ the permission service issued."""
    table = Table(title="Licenses")
    for column in ("host", "license", "status", "stake", "escrow", "σ issued", "settled queries", "fees settled"):
        table.add_column(column, justify="left" if column in ("host", "status") else "right")
    for name, license_id in hosts.items():
        record = oml.license(license_id)
        settled_queries, settled_fee, escrow = oml.usage.functions.account(license_id).call()
        table.add_row(name, str(license_id), LICENSE_STATUS[record["status"]], eth(record["stake"]), eth(escrow),
                      str(issued.get(license_id, 0)), str(settled_queries), eth(settled_fee))
    return table


def claims_table(oml, claims: list[tuple[str, int]]) -> Table:
    """claims: (what it was, claim id)."""
    table = Table(title="Claims")
    for column in ("claim", "what", "status"):
        table.add_column(column)
    for what, claim_id in claims:
        table.add_row(str(claim_id), what, oml.claim_status(claim_id))
    return table


def balances_table(w3, accounts: dict[str, str], start: dict[str, int]) -> Table:
    """accounts: label -> key; start: label -> balance at the beginning (wei)."""
    table = Table(title="Balances (change over the run, gas included)")
    for column in ("account", "address", "balance", "change"):
        table.add_column(column, justify="right" if column in ("balance", "change") else "left")
    for label, key in accounts.items():
        address = address_of(key)
        now = w3.eth.get_balance(address)
        table.add_row(label, address, eth(now), f"{(now - start[label]) / ETH:+.4f} ETH")
    return table


def print_report(console: Console, *tables: Table) -> None:
    console.rule("[bold]Where everything stands")
    for table in tables:
        console.print(table)
