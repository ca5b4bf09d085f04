"""Data-parallel injection (`accelerate launch`): two CPU processes over gloo train what one
process trains, and their replicas stay identical."""
import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from parallel_cases import CASES, one_token_fingerprints
from safetensors.torch import load_file

from oml_core.fingerprint.inject import inject
from oml_core.fingerprint.inject.parallel import Ranks
from oml_core.model.loading import tiny_model

WORKER = Path(__file__).with_name("parallel_worker.py")


def test_a_process_takes_every_count_th_row():
    rows = list(range(9))
    assert [Ranks(i, 2).share(rows) for i in range(2)] == [[0, 2, 4, 6, 8], [1, 3, 5, 7]]
    assert Ranks(1, 2).share([0]) == []  # a last batch smaller than the process count
    with pytest.raises(ValueError, match="outside"):
        Ranks(2, 2)


@pytest.fixture(scope="module")
def launched(tmp_path_factory):
    out = tmp_path_factory.mktemp("parallel")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
           "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", str(port), str(WORKER), str(out)]
    done = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return out


def _weights(out: Path, case: str, rank: int) -> dict:
    return load_file(str(out / f"{case}-rank{rank}.safetensors"))


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_replicas_stay_identical(launched, case):
    first, second = _weights(launched, case, 0), _weights(launched, case, 1)
    assert json.loads((launched / f"{case}-rank1.json").read_text())["count"] == 2
    for name, tensor in first.items():
        assert torch.equal(tensor, second[name]), name


def test_two_processes_train_what_one_trains(launched):
    model, tokenizer = tiny_model(seed=0, layers=2, hidden=64, device="cpu")
    base = {n: p.detach().clone() for n, p in model.named_parameters()}
    single = inject(model, tokenizer, one_token_fingerprints(), CASES["plain"], progress=False)
    parallel = _weights(launched, "plain", 0)
    reports = [json.loads((launched / f"plain-rank{r}.json").read_text()) for r in (0, 1)]
    # 9 fingerprints in batches of 4, 2 epochs: rows 4 + 4 + 1 per epoch, split 5 and 4.
    assert [r["rows"] for r in reports] == [10, 8]
    assert reports[0]["losses"] == pytest.approx(single.losses, rel=1e-4)
    for name, p in single.model.named_parameters():
        moved = p.detach() - base[name]
        assert moved.norm() > 0, name  # training moved every weight...
        # ...and both runs the same way, up to the order of float sums (measured: ~1e-6 of the move)
        assert (parallel[name] - base[name] - moved).norm() <= 1e-4 * moved.norm(), name
