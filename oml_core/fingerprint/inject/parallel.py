"""Data parallelism for inject(): one process per device, started by `accelerate launch`.

Every process holds a full replica of the model and trains on its share of each batch (every
`count`-th row from its own index on). The gradients are averaged across processes, each share
weighed by its number of rows, before the optimizer step. The replicas then take the same step
and stay identical, so averaging toward the base, wrappers and the batch plan need no change.
Samples that every replica must share (the benign answers) are made once, on the main process,
and sent to the others. A single process (no launcher) is the plain case: all of it is a no-op.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Ranks:
    index: int = 0
    count: int = 1
    device: torch.device | None = None  # this process's device; None = the loader's default

    def __post_init__(self):
        if self.count < 1 or not 0 <= self.index < self.count:
            raise ValueError(f"process index {self.index} is outside 0..{self.count - 1}")

    @property
    def main(self) -> bool:
        return self.index == 0

    @property
    def parallel(self) -> bool:
        return self.count > 1

    def share(self, rows: list) -> list:
        """This process's rows of a batch."""
        return rows[self.index::self.count]

    def average_gradients(self, params: dict[str, torch.Tensor], weight: float) -> None:
        """grad <- sum over processes of weight_p * grad_p (weight = own rows / batch rows)."""
        if not self.parallel:
            return
        import torch.distributed as dist

        for p in params.values():
            grad = p.grad if p.grad is not None else torch.zeros_like(p)
            grad.mul_(weight)
            dist.all_reduce(grad)
            p.grad = grad

    def total(self, value: float, weight: float) -> float:
        """The batch's value from each process's weighted share (the loss a single process reports)."""
        if not self.parallel:
            return value
        import torch.distributed as dist

        t = torch.tensor([value * weight], dtype=torch.float64, device=self.device)
        dist.all_reduce(t)
        return float(t.item())

    def from_main(self, make: Callable[[], object]) -> object:
        """make() on the main process; every process returns the main process's result."""
        if not self.parallel:
            return make()
        from accelerate.utils import broadcast_object_list

        box = [make() if self.main else None]
        broadcast_object_list(box, from_process=0)
        return box[0]


SINGLE = Ranks()  # one process: every method is a no-op


def current_ranks() -> Ranks:
    """The processes of this run: from accelerate's launcher (or torchrun) when WORLD_SIZE > 1."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return SINGLE
    from accelerate import PartialState

    # Joins the process group the launcher set up: NCCL over GPUs; gloo where there is no GPU
    # (accelerate would otherwise run each CPU process alone).
    state = PartialState(cpu=not torch.cuda.is_available())
    if state.num_processes < 2:
        raise RuntimeError(f"WORLD_SIZE is {os.environ['WORLD_SIZE']} but accelerate set up a single process")
    return Ranks(state.process_index, state.num_processes, state.device)
