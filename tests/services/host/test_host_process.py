"""The real `oml host serve` process: serves the openai client under σ, keeps its ledger on disk."""
from __future__ import annotations

from openai import OpenAI

from oml_core import typed_data as td
from oml_core.chain.anvil import free_port
from services.common.answer import extension_of
from services.host.ledger import Ledger

MESSAGES = [{"role": "user", "content": "Where is the nearest library?"}]


def test_oml_host_serve_answers_under_sigma_and_keeps_its_ledger(chain, permission, model_dir, licensed, host_key,
                                                                 tmp_path):
    license_id, _ = licensed
    port, database_url = free_port(), f"sqlite:///{tmp_path}/host.db"
    args = ["host", "serve", "--model", str(model_dir), "--license-id", str(license_id),
            "--permission-url", permission.url, "--deployment", str(chain.deployment_path),
            "--port", str(port), "--database-url", database_url, "--log-level", "warning"]
    process = chain.service(f"host-{license_id}", args, f"http://127.0.0.1:{port}", env={"OML_HOST_KEY": host_key})
    process.cwd = tmp_path  # not the repository root, whose stale oml.egg-info would hide the `host` command
    with process:
        reply = OpenAI(base_url=f"{process.url}/v1", api_key="x", max_retries=0, timeout=60).chat.completions.create(
            model="oml", messages=MESSAGES, max_tokens=4)
        sigma = extension_of(reply)["permission"]
        assert sigma["query_hash"] == "0x" + td.query_hash(MESSAGES).hex()
    assert not process.running
    ledger = Ledger(database_url)  # after the process ended: the σ is on disk
    try:
        assert ledger.permission_for(license_id, td.query_hash(MESSAGES)) == sigma
    finally:
        ledger.dispose()


def test_oml_host_serve_without_a_key_fails_clearly(model_dir, tmp_path):
    from typer.testing import CliRunner

    from services.host.cli import app

    result = CliRunner().invoke(app, ["serve", "--model", str(model_dir), "--license-id", "1",
                                      "--permission-url", "http://127.0.0.1:1"], env={"OML_HOST_KEY": ""})
    assert result.exit_code == 1
    assert "OML_HOST_KEY" in result.output
