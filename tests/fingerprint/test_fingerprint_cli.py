"""The `oml fingerprint`, `oml model` and `oml omlize` commands, end to end on the tiny model."""
from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from oml_core.cli.main import app
from oml_core.fingerprint.commit import commitment_root
from oml_core.fingerprint.record import read_jsonl, write_jsonl

runner = CliRunner()
ENV = {"OML_FINGERPRINT_PASSPHRASE": "", "OML_FINGERPRINT_KEY": ""}


def oml(*args, env=None, ok=True):
    result = runner.invoke(app, [str(a) for a in args], env={**ENV, **(env or {})})
    if ok:
        assert result.exit_code == 0, (result.output, result.exception)
    return result


def test_model_prepare_prints_the_checkpoint():
    from pathlib import Path

    path = Path(oml("model", "prepare").stdout.strip())
    assert (path / "model.safetensors").exists()


def test_generate_is_deterministic_and_prints_the_root(tmp_path):
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    out = oml("fingerprint", "generate", "--strategy", "english_random", "-n", 12, "--seed", 5, "--out", a,
              "--commitment", tmp_path / "c.json").stdout
    oml("fingerprint", "generate", "--strategy", "english_random", "-n", 12, "--seed", 5, "--out", b)
    assert a.read_bytes() == b.read_bytes()
    root = "0x" + commitment_root(read_jsonl(a)).hex()
    assert root in out
    assert json.loads((tmp_path / "c.json").read_text())["root"] == root
    assert oml("fingerprint", "commit", a).stdout.strip() == root


@pytest.mark.parametrize("strategy,extra", [
    ("random_tokens", []),
    ("perinucleus", ["--key-source", "text", "--response-length", "2"]),
    ("functional", ["--secret", "sixteen chars or more"]),
])
def test_generate_each_strategy(tmp_path, tiny_dir, strategy, extra):
    out = tmp_path / "fps.jsonl"
    oml("fingerprint", "generate", "--strategy", strategy, "-n", 4, "--seed", 1, "--model", tiny_dir,
        "--out", out, *extra)
    assert [fp.strategy for fp in read_jsonl(out)] == [strategy] * 4


def test_split_encrypt_decrypt(tmp_path):
    plain = tmp_path / "fps.jsonl"
    oml("fingerprint", "generate", "--strategy", "english_random", "-n", 10, "--seed", 2, "--out", plain)
    env = {"OML_FINGERPRINT_PASSPHRASE": "pass phrase"}
    oml("fingerprint", "encrypt", plain, "--out", tmp_path / "fps.enc", env=env)
    oml("fingerprint", "split", tmp_path / "fps.enc", "--licenses", 3, "--per-license", 3,
        "--out-dir", tmp_path / "lic", "--encrypt", env=env)
    roots = {json.loads((tmp_path / "lic" / f"license-{i}.commitment.json").read_text())["root"] for i in range(3)}
    assert len(roots) == 3
    oml("fingerprint", "decrypt", tmp_path / "lic" / "license-1.jsonl",
        "--out", tmp_path / "one.jsonl", env=env)
    assert len(read_jsonl(tmp_path / "one.jsonl")) == 3
    bad = oml("fingerprint", "decrypt", tmp_path / "fps.enc", "--out", tmp_path / "x.jsonl",
              env={"OML_FINGERPRINT_PASSPHRASE": "wrong"}, ok=False)
    assert bad.exit_code == 1 and "error: " in bad.stderr and "wrong key or passphrase" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1


def test_check_evaluate_omlize(tmp_path, tiny_dir, forced):
    fps = write_jsonl(tmp_path / "forced.jsonl", forced)
    assert "8/8 fingerprints answered" in oml("fingerprint", "check", fps, "--model", tiny_dir).stdout
    missing = oml("fingerprint", "check", fps, ok=False)
    assert missing.exit_code == 1 and "exactly one of --model and --endpoint" in missing.stderr
    report = tmp_path / "report.json"
    oml("fingerprint", "evaluate", fps, "--model", tiny_dir, "--base", tiny_dir, "--ppl-texts", 2, "--out", report,
        "--attack-steps", 1, "--attack-lr", 1e-7)
    doc = json.loads(report.read_text())
    # agreement with itself: 1 up to float near-ties of a random model between batched runs
    assert doc["accuracy"] == 1.0 and doc["base_agreement"] > 0.95 and doc["false_positive_rate"] == 1.0
    assert doc["persistence"] == 1.0  # a negligible attack
    out = oml("omlize", "--model", tiny_dir, "--fingerprints", fps, "--out", tmp_path / "M.oml",
              "--model-id", "tiny", "--license-id", 3).stdout
    manifest = json.loads((tmp_path / "M.oml" / "oml.json").read_text())
    assert manifest["license_id"] == 3 and manifest["fingerprint_root"] in out
