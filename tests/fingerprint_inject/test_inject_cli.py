"""`oml fingerprint inject` end to end on a tiny checkpoint: trains, saves a loadable model, and
the saved model answers the fingerprints."""
from inject_helpers import english_fingerprints
from typer.testing import CliRunner

from oml_core.cli.main import app
from oml_core.fingerprint.check import accuracy, check_local
from oml_core.fingerprint.record import write_jsonl
from oml_core.model.loading import load_model


def test_inject_command_trains_and_saves(tmp_path, model, tokenizer):
    checkpoint = tmp_path / "tiny"
    model.save_pretrained(checkpoint)
    tokenizer.save_pretrained(checkpoint)
    fps = english_fingerprints(3, seed=5)
    fp_file = write_jsonl(tmp_path / "fps.jsonl", fps)
    run = tmp_path / "run"
    result = CliRunner().invoke(app, ["fingerprint", "inject", str(fp_file), "--out", str(run), "--model",
                                      str(checkpoint), "--epochs", "40", "--lr", "0.01"])
    assert result.exit_code == 0, result.output
    assert "fingerprint accuracy 100%" in result.output
    trained, tok = load_model(run / "model", device="cpu")
    assert accuracy(check_local(trained, tok, fps)) == 1.0
    assert (run / "inject_config.json").exists()


def test_inject_command_rejects_a_bad_config_in_one_line(tmp_path, tokenizer):
    fp_file = write_jsonl(tmp_path / "fps.jsonl", english_fingerprints(1))
    result = CliRunner().invoke(app, ["fingerprint", "inject", str(fp_file), "--out", str(tmp_path / "r"),
                                      "--lr", "-1"])
    assert result.exit_code == 1
    assert "bad injection config" in result.output
