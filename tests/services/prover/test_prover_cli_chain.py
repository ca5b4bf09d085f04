"""`oml prover load --deployment` checks the keys against the license's root on a real chain."""
from __future__ import annotations

from prover_helpers import PASSPHRASE
from typer.testing import CliRunner

from oml_core.fingerprint.record import Fingerprint, write_jsonl
from services.prover.cli import app
from services.stack import LocalChain


def test_load_checks_the_root_on_chain(tmp_path):
    committed = [Fingerprint(f"chain key {i}", f"chain response {i}") for i in range(4)]
    others = [Fingerprint("a key the owner never committed", "nope")]
    env = {"OML_PROVER_DATABASE_URL": f"sqlite:///{tmp_path}/prover.db",
           "OML_PROVER_PASSPHRASE": PASSPHRASE}
    runner = CliRunner()
    with LocalChain.start(tmp_path / "chain", n_hosts=1, n_verifiers=1) as chain:
        license_id = chain.add_license(chain.accounts.hosts[0], committed, b"\x22" * 32)

        def load(fps: list[Fingerprint], name: str):
            file = write_jsonl(tmp_path / name, fps)
            args = ["load", "--license-id", str(license_id), "--fingerprints", str(file),
                    "--deployment", str(chain.deployment_path)]
            return runner.invoke(app, args, env=env)

        wrong, right = load(others, "others.jsonl"), load(committed, "committed.jsonl")

    assert wrong.exit_code == 1 and f"license {license_id} has root" in wrong.output
    assert right.exit_code == 0 and f"license {license_id}: 4 key(s) added" in right.output, right.output


def test_targets_come_from_the_endpoints_hosts_registered_on_chain(tmp_path):
    from services.prover.chain import license_targets

    fps = [Fingerprint(f"endpoint key {i}", "r") for i in range(2)]
    with LocalChain.start(tmp_path / "chain", n_hosts=3, n_verifiers=1) as chain:
        hosts = chain.accounts.hosts
        api_root = chain.add_license(hosts[0], fps, b"\x01" * 32, endpoint="http://127.0.0.1:8801/v1/")
        base = chain.add_license(hosts[1], fps, b"\x02" * 32, endpoint="https://host.example")
        malformed = chain.add_license(hosts[2], fps, b"\x03" * 32, endpoint="ftp://host.example")
        chain.oml.request_exit(hosts[1], base)  # Exiting: still slashable, still probed
        targets = license_targets(chain.deployment_path, [api_root, base, malformed], model="m")

    assert [(t.license_id, t.url, t.model) for t in targets] == [
        (api_root, "http://127.0.0.1:8801", "m"), (base, "https://host.example", "m")]


def test_run_needs_targets_or_the_chain(tmp_path):
    env = {"OML_PROVER_DATABASE_URL": f"sqlite:///{tmp_path}/prover.db", "OML_PROVER_PASSPHRASE": PASSPHRASE,
           "OML_PROVER_KEY": "0x" + "11" * 32, "OML_PROVER_VERIFIER_URLS": '["http://127.0.0.1:9"]'}
    result = CliRunner().invoke(app, ["run", "--max-queries", "1"], env=env)
    assert result.exit_code == 1 and "--deployment" in result.output
