"""`oml prover load` reads the owner's encrypted fingerprint file, `oml prover status` reports it,
`oml prover run` probes a host and hands the transcripts to a verifier."""
from __future__ import annotations

import json

from prover_helpers import LICENSE_ID, PASSPHRASE
from typer.testing import CliRunner

from oml_core.fingerprint.record import Fingerprint, write_jsonl
from oml_core.fingerprint.secrets_store import encrypt_fingerprints
from services.prover.cli import app


def test_load_an_encrypted_file_then_status(tmp_path):
    fps = [Fingerprint(f"cli key {i}", f"cli response {i}") for i in range(3)]
    sealed = encrypt_fingerprints(fps, tmp_path / "fps.enc", passphrase="owner secret", scrypt_n=2**14)
    database = {"OML_PROVER_DATABASE_URL": f"sqlite:///{tmp_path}/prover.db"}
    env = {**database, "OML_PROVER_PASSPHRASE": PASSPHRASE, "OML_FINGERPRINT_PASSPHRASE": "owner secret"}
    runner = CliRunner()

    loaded = runner.invoke(app, ["load", "--license-id", "3", "--fingerprints", str(sealed)], env=env)
    wrong = runner.invoke(app, ["load", "--license-id", "3", "--fingerprints", str(sealed)],
                          env={**env, "OML_PROVER_PASSPHRASE": "guess"})
    status = runner.invoke(app, ["status", "--json"], env=database)  # no passphrase needed

    assert loaded.exit_code == 0, loaded.output
    assert "license 3: 3 key(s) added" in loaded.output
    assert wrong.exit_code == 1 and "wrong passphrase" in wrong.output
    assert status.exit_code == 0, status.output
    report = json.loads(status.output)
    assert report["licenses"][0] | {"queries": None} == {"license_id": 3, "keys_loaded": 3, "keys_left": 3,
                                                         "queries": None}
    assert report["pending_transcripts"] == 0


def test_run_probes_the_target_and_hands_transcripts_over(tmp_path, host, verifier, fingerprints,
                                                          prover_key):
    env = {"OML_PROVER_DATABASE_URL": f"sqlite:///{tmp_path}/prover.db",
           "OML_PROVER_PASSPHRASE": PASSPHRASE, "OML_PROVER_KEY": prover_key}
    runner = CliRunner()
    file = write_jsonl(tmp_path / "fps.jsonl", fingerprints)
    assert runner.invoke(app, ["load", "--license-id", str(LICENSE_ID), "--fingerprints", str(file)],
                         env=env).exit_code == 0

    ran = runner.invoke(app, ["run", "--target", f"{LICENSE_ID}={host.url}", "--verifier", verifier.url,
                              "--probe-share", "1", "--mean-interval", "0.01", "--max-queries", "2"],
                        env=env)
    bad = runner.invoke(app, ["run", "--target", "seven=http://x", "--verifier", verifier.url], env=env)

    assert ran.exit_code == 0, ran.output
    assert "sent 2 probe(s)" in ran.output and "0 transcript(s) pending" in ran.output
    assert len(verifier.received) == 2 and len(host.requests) == 2
    assert bad.exit_code == 1 and "not LICENSE_ID=URL" in bad.output
