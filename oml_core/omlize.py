"""OMLize: package a fingerprinted model as M.oml, the directory a licensed host downloads.

M.oml = safetensors weights + tokenizer + `oml.json`, a manifest naming the model, its family,
the license it was built for, a hash of its weights and the Merkle root of its fingerprints.
Only the root goes in: keys, responses, salts, seeds and partition secrets never do (the
fingerprint file stays with the owner, encrypted; see fingerprint/secrets_store.py).
"""
from __future__ import annotations

import hashlib
import json
import shutil
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from oml_core.fingerprint.commit import commitment_root
from oml_core.fingerprint.record import Fingerprint

MANIFEST = "oml.json"
FORMAT = "oml-1"
# Config keys that would let someone regenerate or recognise the fingerprints.
SECRET_KEYS = {"seed", "secret", "responses", "passphrase", "key", "salt"}


def weights_hash(directory: str | Path) -> str:
    """sha256 over the bytes of every *.safetensors file in `directory`, in sorted name order."""
    files = sorted(Path(directory).glob("*.safetensors"))
    if not files:
        raise ValueError(f"no .safetensors files in {directory}")
    digest = hashlib.sha256()
    for path in files:
        with path.open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
    return "sha256:" + digest.hexdigest()


def scrub(config: dict | None) -> dict:
    """A copy of `config` without secret fields, at any depth."""
    if not config:
        return {}
    out = {}
    for k, v in config.items():
        if k in SECRET_KEYS:
            continue
        out[k] = scrub(v) if isinstance(v, dict) else v
    return out


@dataclass
class Manifest:
    model_id: str
    family: str
    license_id: int | None
    weights_hash: str
    fingerprint_root: str
    fingerprint_count: int
    generation_config: dict = field(default_factory=dict)
    training_config: dict = field(default_factory=dict)
    format: str = FORMAT
    created_at: str = ""

    def __post_init__(self):
        if not self.model_id or not self.family:
            raise ValueError("a manifest needs a model id and a family")
        if self.license_id is not None and self.license_id < 0:
            raise ValueError("license_id must be >= 0")
        if not self.weights_hash.startswith("sha256:") or not self.fingerprint_root.startswith("0x"):
            raise ValueError("weights_hash is 'sha256:<hex>' and fingerprint_root '0x<hex>'")

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def read(cls, oml_dir: str | Path) -> Manifest:
        return cls(**json.loads((Path(oml_dir) / MANIFEST).read_text()))


def omlize(model, tokenizer, fps: list[Fingerprint], out_dir: str | Path, model_id: str, family: str = "",
           license_id: int | None = None, generation_config: dict | None = None,
           training_config: dict | None = None, overwrite: bool = False) -> Manifest:
    """Write M.oml for (model, tokenizer), committing to `fps` (the set injected into it)."""
    out_dir = Path(out_dir)
    if out_dir.exists():
        if not overwrite:
            raise FileExistsError(f"{out_dir} exists (pass overwrite=True / --overwrite)")
        shutil.rmtree(out_dir)
    tmp = out_dir.with_name(out_dir.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp, safe_serialization=True)
    tokenizer.save_pretrained(tmp)
    manifest = Manifest(
        model_id=model_id,
        family=family or getattr(model.config, "model_type", "unknown"),
        license_id=license_id,
        weights_hash=weights_hash(tmp),
        fingerprint_root="0x" + commitment_root(fps).hex(),
        fingerprint_count=len(fps),
        # Without a recorded config, at least say which strategies made the set (nothing secret).
        generation_config=scrub(generation_config) or {"strategies": dict(Counter(fp.strategy for fp in fps))},
        training_config=scrub(training_config),
        created_at=datetime.now(UTC).replace(microsecond=0).isoformat(),
    )
    (tmp / MANIFEST).write_text(json.dumps(manifest.to_json(), indent=2) + "\n")
    tmp.rename(out_dir)  # a complete M.oml or none
    return manifest


def verify_oml(oml_dir: str | Path) -> Manifest:
    """The manifest, after checking the weights are the ones it names (ValueError otherwise)."""
    manifest = Manifest.read(oml_dir)
    actual = weights_hash(oml_dir)
    if actual != manifest.weights_hash:
        raise ValueError(f"{oml_dir}: weights hash {actual} does not match the manifest's {manifest.weights_hash}")
    return manifest
