"""Run by test_parallel.py under `accelerate launch --multi_gpu --num_processes 2` (gloo on a CPU-only machine): inject() over two
processes, each saving its replica's weights and the losses it reports."""
import json
import sys
from pathlib import Path

from safetensors.torch import save_file

from oml_core.fingerprint.inject import inject
from oml_core.fingerprint.inject.parallel import current_ranks
from oml_core.model.loading import tiny_model

sys.path.insert(0, str(Path(__file__).parent))
from parallel_cases import CASES, one_token_fingerprints


def main(out: Path) -> None:
    ranks = current_ranks()
    for name, config in CASES.items():
        model, tokenizer = tiny_model(seed=0, layers=2, hidden=64, device="cpu")
        rows: list[int] = []  # the batch rows this process ran through its replica
        model.register_forward_pre_hook(lambda _m, _a, kw, rows=rows: rows.append(kw["input_ids"].shape[0]), with_kwargs=True)
        result = inject(model, tokenizer, one_token_fingerprints(), config, progress=False, ranks=ranks)
        weights = {n: p.detach().contiguous() for n, p in result.model.named_parameters()}
        save_file(weights, str(out / f"{name}-rank{ranks.index}.safetensors"))
        (out / f"{name}-rank{ranks.index}.json").write_text(json.dumps({"count": ranks.count, "rows": sum(rows),
                                                                             "losses": result.losses}))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
