"""`oml chain walkthrough`: the on-chain half of the story (settle, refute, slash, exit, withdraw)."""
from typer.testing import CliRunner

from oml_core.cli.main import app
from oml_core.demo import DEMO_TERMS, ETH, run_demo


def test_walkthrough_moves_the_money_the_protocol_says(capsys):
    figures = run_demo()
    assert figures["fee_settled"] == figures["sigmas"] * DEMO_TERMS.price_per_query
    assert figures["slashed"] == 20 * ETH * DEMO_TERMS.slash_bps // 10_000
    assert figures["stake_returned"] == 20 * ETH - figures["slashed"]
    assert figures["owner_a"] > 0 and abs(figures["owner_a"] - 3 * figures["owner_b"]) <= 3
    assert figures["contract_balances"]["LicenseManager"] == 0  # the exited host took its stake


def test_walkthrough_is_an_oml_chain_command():
    result = CliRunner().invoke(app, ["chain", "walkthrough", "--help"])
    assert result.exit_code == 0 and "walk one license" in result.output
