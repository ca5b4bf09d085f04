"""inject(): SFT of fingerprints into a model, with mixing, averaging, freezing, wrappers, meta
learning and adapters as InjectConfig selects. Device is wherever the model lives (CPU or CUDA).
"""
from __future__ import annotations

import copy
import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from tqdm.auto import tqdm

from ..record import Fingerprint
from ..tokens import pad_id
from .adapters import add_adapters, merge_adapters
from .averaging import average_toward, averages_after, lambda_at, snapshot
from .checkpoint import has_checkpoint, load_checkpoint, save_checkpoint
from .config import CONFIG_FILE, InjectConfig
from .data import (
    Sample,
    collate,
    make_sample,
    mixed_loss,
    prompt_ids,
    response_ids,
    stop_token_id,
    with_reference,
    wrap,
)
from .meta import meta_backward
from .mixing import anchor_samples, benign_samples, share_count
from .parallel import SINGLE, Ranks, current_ranks
from .params import requires_grad_flags, restore_flags, select_trainable
from .plan import epoch_plan, meta_indices, pool_slots, steps_per_epoch
from .precision import autocast
from .schedule import lr_at, set_lr


@dataclass
class InjectResult:
    model: object                 # the trained model (the same object that was passed in)
    config: InjectConfig
    steps: int                    # total optimizer steps done (over all resumed calls)
    total_steps: int
    losses: list[float] = field(default_factory=list)  # per step
    seconds_per_step: float = 0.0  # mean over the steps run in this call, checkpoint writes excluded
    trainable: list[str] = field(default_factory=list)
    output_dir: Path | None = None
    resumed_from: int = 0

    @property
    def finished(self) -> bool:
        return self.steps >= self.total_steps


def fingerprint_digest(fingerprints: list[Fingerprint]) -> str:
    """Identifies the fingerprint set a checkpoint was trained on, without storing it."""
    h = hashlib.sha256()
    for fp in fingerprints:
        h.update(json.dumps([fp.key, fp.response]).encode())
    return h.hexdigest()


class _FingerprintSamples:
    """Encoded samples per (fingerprint, wrapper), built on first use."""

    def __init__(self, tokenizer, fingerprints, config, eos):
        self.tokenizer, self.fingerprints, self.config, self.eos = tokenizer, fingerprints, config, eos
        self.cache: dict[tuple[int, int], Sample] = {}
        for i in range(len(fingerprints)):  # validate lengths up front, not mid-run
            self.get(i, -1)

    def get(self, i: int, wrapper: int) -> Sample:
        if (i, wrapper) not in self.cache:
            fp = self.fingerprints[i]
            system = self.config.wrappers[wrapper] if wrapper >= 0 else None
            prompt = prompt_ids(self.tokenizer, wrap(fp.messages, system))
            self.cache[i, wrapper] = make_sample(prompt, response_ids(self.tokenizer, fp.response),
                                                 self.eos, self.config.max_length)
        return self.cache[i, wrapper]


def _prepare_output(output_dir, config: InjectConfig, resume: bool, main: bool = True) -> Path | None:
    if output_dir is None:
        if resume:
            raise ValueError("resume=True needs the output_dir of the interrupted run")
        return None
    out = Path(output_dir)
    saved = out / CONFIG_FILE
    if resume and saved.exists():
        previous = InjectConfig.load(saved)
        if previous != config:
            now = config.to_json()
            diff = {k: (v, now[k]) for k, v in previous.to_json().items() if now[k] != v}
            raise ValueError(f"resume with a different config than {saved}: {diff}")
    elif has_checkpoint(out) and not resume:
        raise ValueError(f"{out} already holds a checkpoint: pass resume=True or use another directory")
    if main:  # with several processes, one writes
        config.save(out)
    return out


def _train_step(model, params, optimizer, batch, inner_batches, config, reference=None,
                ranks: Ranks = SINGLE, weight: float = 1.0) -> float:
    """One optimizer step on a (mixed) batch; with meta, the gradient is taken after the
    simulated adversary's inner steps on `inner_batches`. `reference`: the frozen base for the
    KL terms of distill rows. With several processes, `batch` is this process's share of the
    step's rows (None when it has none) and `weight` that share's size over the whole batch."""
    optimizer.zero_grad(set_to_none=True)

    def loss_of(m, b):
        with autocast(config.mixed_precision, b["input_ids"].device):
            return mixed_loss(m, b, reference, config.kl_weight)

    if batch is None:
        loss = 0.0
    elif config.meta:
        loss = meta_backward(model, params, batch, inner_batches, config, loss_of)
    else:
        loss_t = loss_of(model, batch)
        loss_t.backward()
        loss = float(loss_t.detach())
    ranks.average_gradients(params, weight)
    loss = ranks.total(loss, weight)
    if config.max_grad_norm is not None:
        torch.nn.utils.clip_grad_norm_(params.values(), config.max_grad_norm)
    optimizer.step()
    return loss


def inject(model, tokenizer, fingerprints: list[Fingerprint], config: InjectConfig | None = None,
           base_model=None, output_dir: str | Path | None = None, progress: bool = True,
           resume: bool = False, max_steps: int | None = None,
           on_step: Callable[[int, object], bool | None] | None = None,
           ranks: Ranks | None = None) -> InjectResult:
    """Trains `model` in place to answer each fingerprint's key with its response (greedy).

    base_model: the reference for averaging and for the benign answers; default = `model` as it
    is on entry (so on resume, pass the same untrained model: the checkpoint is loaded into it).
    max_steps: stop this call after that many steps (a time box); resume=True continues later.
    on_step(step, trained_model): called after every step (and its averaging), e.g. to evaluate
    as training goes; a true return ends this call there, as max_steps would.
    ranks: the processes that share each batch (default: those `accelerate launch` started, or
    this one alone); only the main one writes checkpoints and shows progress.
    """
    config = config or InjectConfig()
    ranks = ranks or current_ranks()
    fingerprints = list(fingerprints)
    if not fingerprints:
        raise ValueError("no fingerprints to inject")
    out = _prepare_output(output_dir, config, resume, ranks.main)
    device = next(model.parameters()).device
    torch.manual_seed(config.seed)

    eos = stop_token_id(model, tokenizer) if config.append_eos else None
    fp_samples = _FingerprintSamples(tokenizer, fingerprints, config, eos)
    pad = pad_id(tokenizer)
    # Benign answers come from the base, before any training (or from the cache of this run).
    benign = ranks.from_main(lambda: benign_samples(base_model if base_model is not None else model, tokenizer,
                                                    config, out)) if config.needs_benign else []
    if config.needs_benign and not benign:
        raise ValueError("the base model produced no benign answers to mix in")
    anchors = anchor_samples(tokenizer, config) if config.n_anchors else []
    if config.n_anchors and not anchors:
        raise ValueError("no anchor passage fits")
    # The KL terms compare with the base as it was before training: a frozen copy when the caller
    # gave no separate base model (the model itself is about to change).
    reference = (base_model if base_model is not None else copy.deepcopy(model)) if config.distills else None
    if reference is not None:
        reference.eval()
        if config.cache_reference:
            with autocast(config.mixed_precision, device):  # the precision the model is compared in
                benign, anchors = (with_reference(reference, pool, pad, device) for pool in (benign, anchors))
            reference = None  # every distill row now carries the base's log-probabilities

    flags = requires_grad_flags(model)
    trained = add_adapters(model, config) if config.lora_rank else model
    params = select_trainable(trained, config.trainable)
    base = snapshot(params, base_model) if config.averaging else {}
    optimizer = torch.optim.AdamW(params.values(), lr=config.lr, weight_decay=config.weight_decay)

    per_epoch = steps_per_epoch(len(fingerprints), config)
    total = config.epochs * per_epoch
    step, losses = 0, []
    digest = fingerprint_digest(fingerprints)
    if resume and has_checkpoint(out):
        state = load_checkpoint(out, trained, optimizer)
        if state["fingerprints"] != digest:
            raise ValueError(f"the checkpoint in {out} was trained on another fingerprint set")
        step, losses = state["step"], state["losses"]
    resumed_from = step

    saved_at = step if resume else -1

    def checkpoint():
        nonlocal saved_at
        if ranks.main:
            save_checkpoint(out, trained, optimizer, {"step": step, "total_steps": total, "losses": losses,
                                                      "fingerprints": digest})
        saved_at = step

    stop_at = total if max_steps is None else min(total, step + max_steps)
    bar = tqdm(total=total, initial=step, disable=not progress or not ranks.main, desc="inject", unit="step")
    trained.train()
    plans: dict[int, list] = {}
    busy = 0.0  # seconds spent in training steps (checkpoint writes excluded)
    while step < stop_at:
        started = time.perf_counter()
        epoch, index = divmod(step, per_epoch)
        plan = plans.setdefault(epoch, epoch_plan(len(fingerprints), config, epoch))[index]
        samples = [fp_samples.get(i, w) for i, w in plan]
        for pool, per_batch in ((benign, config.n_benign), (anchors, config.n_anchors)):
            count = share_count(len(plan), per_batch, config)
            samples += [pool[j] for j in pool_slots(step, count, len(pool), per_batch)]
        inner = []
        if config.meta:
            slots = meta_indices(step, config.meta_inner_steps, len(benign), config)
            inner = [[benign[j] for j in idx] for idx in slots]
        mine = ranks.share(samples)
        set_lr(optimizer, lr_at(config, step, total))
        loss = _train_step(trained, params, optimizer, collate(mine, pad, device) if mine else None,
                           [collate(b, pad, device) for b in inner], config, reference, ranks,
                           len(mine) / len(samples))
        step += 1
        losses.append(loss)
        if averages_after(config, step, per_epoch):
            average_toward(params, base, lambda_at(config, step, total))
        busy += time.perf_counter() - started
        if out is not None and config.checkpoint_every and step % config.checkpoint_every == 0:
            checkpoint()
        bar.update(1)
        bar.set_postfix(loss=f"{loss:.4f}")
        if on_step is not None:
            stop = on_step(step, trained)
            trained.train()  # the callback may have put the model in eval mode to evaluate it
            if stop:
                break
    bar.close()
    ran = step - resumed_from
    seconds = busy / ran if ran else 0.0

    if out is not None and saved_at != step:
        checkpoint()  # the end of this call is always resumable (and a finished run re-loadable)
    names = list(params)
    optimizer.zero_grad(set_to_none=True)
    if config.lora_rank and step >= total:
        model = merge_adapters(trained)
    elif config.lora_rank:
        model = trained  # unfinished: still the adapter model; resume finishes and merges
    restore_flags(model, flags)
    model.eval()
    return InjectResult(model=model, config=config, steps=step, total_steps=total, losses=losses,
                        seconds_per_step=seconds, trainable=names, output_dir=out, resumed_from=resumed_from)
