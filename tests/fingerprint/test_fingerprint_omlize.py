"""M.oml: weights + tokenizer + manifest, the weights hash pins every byte, and no secret is inside."""
from __future__ import annotations

import json

import pytest
from safetensors.torch import load_file, save_file

from oml_core.fingerprint.commit import commitment_root
from oml_core.fingerprint.generate import config_for, generate_fingerprints, public_config
from oml_core.omlize import MANIFEST, Manifest, omlize, verify_oml, weights_hash

SECRET = "the functional partition secret"
SEED = 424242


@pytest.fixture(scope="module")
def fps():
    return (generate_fingerprints("english_random", 6, seed=SEED)
            + generate_fingerprints("functional", 4, seed=SEED, secret=SECRET))


@pytest.fixture(scope="module")
def oml_dir(tiny, fps, tmp_path_factory):
    model, tokenizer = tiny
    out = tmp_path_factory.mktemp("oml") / "M.oml"
    generation = {"strategy": "functional", "seed": SEED, "n": 4, "secret": SECRET,
                  "nested": {"secret": SECRET, "function": "majority"}}
    omlize(model, tokenizer, fps, out, "smollm2-fp", license_id=7, generation_config=generation,
           training_config={"epochs": 2, "lr": 1e-4})
    return out


def test_layout_and_manifest(oml_dir, fps):
    names = {p.name for p in oml_dir.iterdir()}
    assert MANIFEST in names and "model.safetensors" in names and "tokenizer.json" in names
    manifest = verify_oml(oml_dir)
    assert manifest.fingerprint_root == "0x" + commitment_root(fps).hex()
    assert (manifest.model_id, manifest.family, manifest.license_id) == ("smollm2-fp", "llama", 7)
    assert manifest.fingerprint_count == 10 and manifest.training_config == {"epochs": 2, "lr": 1e-4}
    assert manifest.generation_config == {"strategy": "functional", "n": 4, "nested": {"function": "majority"}}
    assert manifest.weights_hash == weights_hash(oml_dir)


def test_no_secret_inside(oml_dir, fps):
    blob = b"".join(p.read_bytes() for p in sorted(oml_dir.rglob("*")) if p.is_file())
    secrets = [SECRET, str(SEED)] + [s for fp in fps for s in (fp.key, fp.salt.hex())]
    secrets += [fp.response for fp in fps if len(fp.response) > 12]  # short words occur in any vocab
    leaked = [s for s in secrets if s.encode() in blob]
    assert not leaked


def test_weights_hash_changes_with_one_weight(oml_dir, tmp_path):
    before = weights_hash(oml_dir)
    tensors = load_file(oml_dir / "model.safetensors")
    name = min(tensors)
    tensors[name] = tensors[name].clone()
    tensors[name].view(-1)[0] += 1e-3
    copy = tmp_path / "copy"
    copy.mkdir()
    (copy / MANIFEST).write_text((oml_dir / MANIFEST).read_text())
    save_file(tensors, copy / "model.safetensors", metadata={"format": "pt"})
    assert weights_hash(copy) != before
    with pytest.raises(ValueError, match="does not match"):
        verify_oml(copy)


def test_refuses_to_overwrite_and_validates(tiny, fps, oml_dir):
    with pytest.raises(FileExistsError):
        omlize(*tiny, fps, oml_dir, "x")
    with pytest.raises(ValueError):
        Manifest(model_id="", family="llama", license_id=None, weights_hash="sha256:00",
                 fingerprint_root="0x00", fingerprint_count=0)
    assert json.loads((oml_dir / MANIFEST).read_text())["format"] == "oml-1"


def test_public_config_drops_secret_fields():
    config = config_for("functional", n=3, secret=SECRET)
    public = public_config(config)
    assert "secret" not in public and "responses" not in public and public["function"] == "majority"
