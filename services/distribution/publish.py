"""The owner's side before any download: OMLize a license's own copy into the models directory
(`DIR/license-<id>/`) and commit its fingerprint root and weights hash on chain, which the host's
download is then checked against."""
from __future__ import annotations

from pathlib import Path

from oml_core.contracts import OMLContracts
from oml_core.fingerprint.record import Fingerprint
from oml_core.omlize import Manifest, omlize
from services.stack import weights_hash_bytes32


def license_dir(models_dir: str | Path, license_id: int) -> Path:
    """Where the download service looks for license `license_id`'s M.oml."""
    return Path(models_dir) / f"license-{license_id}"


def prepare_license_model(model, tokenizer, fingerprints: list[Fingerprint], models_dir: str | Path,
                          license_id: int, model_id: str, family: str = "", **omlize_options) -> Manifest:
    """Writes the license's M.oml (its model carries `fingerprints`) where the service serves it."""
    return omlize(model, tokenizer, fingerprints, license_dir(models_dir, license_id), model_id=model_id,
                  family=family, license_id=license_id, overwrite=True, **omlize_options)


def commit_license_model(oml: OMLContracts, admin_key: str, license_id: int, manifest: Manifest):
    """LicenseManager.setFingerprintCommitment with the M.oml's root and weights hash (the model's
    admin, once per license, before the host downloads)."""
    return oml.set_fingerprint_commitment(admin_key, license_id, bytes.fromhex(manifest.fingerprint_root[2:]),
                                          weights_hash_bytes32(manifest.weights_hash))
