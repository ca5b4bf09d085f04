"""What injection trains is what the project's checker finds: inject on a tiny model, then run
oml_core.fingerprint.check (batched, left-padded, a different code path from the trainer)."""
from inject_helpers import english_fingerprints

from oml_core.fingerprint.check import accuracy, check_local
from oml_core.fingerprint.inject import InjectConfig, inject


def test_injected_fingerprints_are_found_by_the_batched_checker(model, tokenizer, base):
    fps = english_fingerprints(4, seed=3)
    assert accuracy(check_local(base, tokenizer, fps, batch_size=3)) == 0.0
    config = InjectConfig(lr=1e-2, epochs=40, batch_size=4, mix_share=0.0, seed=0)
    inject(model, tokenizer, fps, config, progress=False)
    results = check_local(model, tokenizer, fps, batch_size=3)
    assert accuracy(results) == 1.0, [r for r in results if not r.found]
