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
