"""The owner's side of a local run: fingerprints for every license, one OMLized copy per license.

Each license gets its own disjoint fingerprint subset, injected into a fresh copy of the base
model and packaged as M.oml under `models_dir/license-<id>/` (what the download service serves).
The owner checks every copy before publishing its root: a fingerprint the copy does not answer
could never convict anyone.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

from oml_core.fingerprint.check import accuracy, check_local
from oml_core.fingerprint.evaluate import perplexity
from oml_core.fingerprint.generate import generate_fingerprints
from oml_core.fingerprint.inject.train import inject
from oml_core.fingerprint.record import Fingerprint
from oml_core.fingerprint.subsets import split_for_licenses
from oml_core.omlize import Manifest
from services.distribution.publish import license_dir, prepare_license_model
from services.scenario.profiles import Profile

MODEL_ID = "SmolLM2-135M-Instruct"


@dataclass(frozen=True)
class LicenseCopy:
    license_id: int
    fingerprints: list[Fingerprint]
    manifest: Manifest
    directory: Path
    accuracy: float          # share of its fingerprints the copy answers (greedy, exact)
    base_false_positives: float  # share of them the base model answers (should be 0)
    perplexity_change: float  # held-out perplexity of the copy relative to the base, minus 1


def load_base(profile: Profile):
    """(model, tokenizer) of the profile's base model."""
    from oml_core.model.loading import load_model, tiny_model

    if profile.name == "tiny":
        return tiny_model(seed=0)
    return load_model("smollm2")


def license_fingerprints(profile: Profile, model, tokenizer, n_licenses: int, seed: int) -> list[list[Fingerprint]]:
    """Disjoint fingerprint sets, one per license, generated from the base model where needed."""
    total = n_licenses * profile.per_license
    fps = generate_fingerprints(profile.strategy, total, seed=seed, model=model, tokenizer=tokenizer,
                                **profile.generate_options)
    return split_for_licenses(fps, n_licenses, profile.per_license, seed)


def omlize_copy(profile: Profile, base, tokenizer, license_id: int, fingerprints: list[Fingerprint],
                models_dir: Path, base_perplexity: float, progress: bool = True) -> LicenseCopy:
    """Inject `fingerprints` into a copy of `base` and write M.oml for `license_id`."""
    model = copy.deepcopy(base)
    inject(model, tokenizer, fingerprints, profile.inject, base_model=base, progress=progress)
    model.eval()
    manifest = prepare_license_model(model, tokenizer, fingerprints, models_dir, license_id, MODEL_ID,
                                     training_config=_config_dict(profile))
    answered = accuracy(check_local(model, tokenizer, fingerprints))
    base_fp = accuracy(check_local(base, tokenizer, fingerprints))
    change = perplexity(model, tokenizer) / base_perplexity - 1
    return LicenseCopy(license_id, fingerprints, manifest, license_dir(models_dir, license_id), answered, base_fp,
                       change)


def _config_dict(profile: Profile) -> dict:
    from dataclasses import asdict

    return {"profile": profile.name, "strategy": profile.strategy, "inject": asdict(profile.inject)}
