"""`oml owner publish`: an M.oml built elsewhere (oml omlize) is committed on chain for its
license and placed where the download service serves it; a copy for another license is refused."""
from typer.testing import CliRunner

from oml_core.cli.main import app
from oml_core.fingerprint.record import Fingerprint
from oml_core.omlize import omlize
from services.distribution.publish import license_dir
from services.stack import ETH, weights_hash_bytes32


def test_publish_commits_root_and_weights_hash_and_serves_the_copy(chain, tiny, models_dir, tmp_path):
    license_id = chain.oml.acquire_license(chain.accounts.hosts[1], chain.model_id, "http://unset", 20 * ETH)
    fps = [Fingerprint(f"publish key {i}", f"publish answer {i}") for i in range(3)]
    built = tmp_path / "built"
    manifest = omlize(*tiny, fps, built, model_id="tiny", license_id=license_id)
    env = {"OML_OWNER_KEY": chain.accounts.admin}
    args = ["owner", "publish", "--oml-dir", str(built), "--models-dir", str(models_dir),
            "--deployment", str(chain.deployment_path)]

    refused = CliRunner().invoke(app, [*args, "--license-id", str(license_id + 100)], env=env)
    assert refused.exit_code == 1 and "built for license" in refused.output
    assert chain.oml.license(license_id)["fingerprintRoot"] == b"\0" * 32

    result = CliRunner().invoke(app, [*args, "--license-id", str(license_id)], env=env)
    assert result.exit_code == 0, result.output
    record = chain.oml.license(license_id)
    assert record["fingerprintRoot"].hex() == manifest.fingerprint_root[2:]
    assert record["weightsHash"] == weights_hash_bytes32(manifest.weights_hash)
    assert (license_dir(models_dir, license_id) / "oml.json").exists()
