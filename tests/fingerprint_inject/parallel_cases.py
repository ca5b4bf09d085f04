"""What test_parallel.py trains, in one process and in two (shared with parallel_worker.py)."""
from oml_core.fingerprint.inject import InjectConfig
from oml_core.fingerprint.record import Fingerprint

# Single-token answers: every row has the same number of labelled tokens (the answer and EOS),
# so a batch's mean loss is exactly the row-weighted mean of the two processes' shares.
WORDS = ("apple", "river", "window", "music", "orange", "forest", "yellow", "planet", "castle")

CASES = {
    # Wrappers and averaging on: both must act the same on every replica. 9 rows in batches of
    # 4 leave a last batch of 1, where one process has no row at all.
    "plain": InjectConfig(seed=2, epochs=2, lr=1e-2, batch_size=4, wrapper_share=0.5, avg_lambda=0.1, avg_every=1),
    # Every kind of row: fingerprints, benign answers (made once, on the main process) and anchors.
    "mixed": InjectConfig(seed=2, epochs=2, lr=1e-2, batch_size=8, mix_share=0.25, benign_loss="kl",
                          anchor_share=0.25, anchor_tokens=16, benign_pool=4, benign_max_new_tokens=4,
                          avg_lambda=0.1),
}


def one_token_fingerprints() -> list[Fingerprint]:
    return [Fingerprint(f"Name the secret word number {i} of the list.", word, bytes([i]) * 32)
            for i, word in enumerate(WORDS)]
