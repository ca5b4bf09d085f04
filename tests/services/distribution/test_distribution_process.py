"""The real `oml owner serve` process and the `oml host download` command against it."""
from __future__ import annotations

from typer.testing import CliRunner

from oml_core.chain.anvil import free_port
from oml_core.omlize import Manifest
from services.host.cli import app as host_cli


def test_oml_host_download_from_oml_owner_serve(chain, issue, models_dir, tmp_path):
    host = chain.accounts.hosts[0]
    license_id = issue(host)
    port = free_port()
    process = chain.service("owner", ["owner", "serve", "--models-dir", str(models_dir), "--deployment",
                                      str(chain.deployment_path), "--port", str(port), "--log-level", "warning"],
                            f"http://127.0.0.1:{port}")
    process.cwd = tmp_path  # not the repository root, whose stale oml.egg-info would hide the command
    runner = CliRunner()
    with process:
        args = ["download", "--owner-url", process.url, "--license-id", str(license_id),
                "--deployment", str(chain.deployment_path)]
        ok = runner.invoke(host_cli, [*args, "--out", str(tmp_path / "mine")], env={"OML_HOST_KEY": host})
        refused = runner.invoke(host_cli, [*args, "--out", str(tmp_path / "theirs")],
                                env={"OML_HOST_KEY": chain.accounts.hosts[1]})
    assert ok.exit_code == 0, ok.output
    assert Manifest.read(tmp_path / "mine").license_id == license_id
    assert refused.exit_code == 1
    assert "not the host of license" in refused.output and not (tmp_path / "theirs").exists()
