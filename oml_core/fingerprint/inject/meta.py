"""First-order meta-learning (bilevel) injection step, after MAML (Finn et al. 2017).

The adversary fine-tunes a fingerprinted model on ordinary data to wash the fingerprints out. We
simulate that during injection: m inner SGD steps on benign batches move theta to theta', then
the fingerprint loss gradient taken *at theta'* updates the real theta. First-order: the inner
steps are not differentiated through (no second derivatives), which keeps memory at one copy of
the trainable weights. The inner steps run on the live weights, which are restored afterwards.
"""
from __future__ import annotations

import torch

from .data import lm_loss


def meta_backward(model, params: dict[str, torch.Tensor], batch, inner_batches, config, loss_of=None) -> float:
    """Leaves in p.grad: plain_weight * grad L(theta) + grad L(theta'); returns L(theta').

    `batch` is the (mixed) fingerprint batch, L = loss_of(model, batch) (default: cross-entropy);
    `inner_batches` the adversary's benign batches, always plain cross-entropy (an ordinary SFT).
    """
    loss_of = loss_of or lm_loss
    tensors = list(params.values())
    grads = [torch.zeros_like(p) for p in tensors]
    if config.meta_plain_weight > 0:
        plain = torch.autograd.grad(loss_of(model, batch), tensors)
        for g, d in zip(grads, plain):
            g.add_(d, alpha=config.meta_plain_weight)
    saved = [p.detach().clone() for p in tensors]
    for inner in inner_batches:
        step = torch.autograd.grad(lm_loss(model, inner), tensors)
        with torch.no_grad():
            for p, d in zip(tensors, step):
                p.sub_(d, alpha=config.meta_inner_lr)
    loss = loss_of(model, batch)
    adapted = torch.autograd.grad(loss, tensors)
    with torch.no_grad():
        for p, s, g, d in zip(tensors, saved, grads, adapted):
            p.copy_(s)
            p.grad = g.add_(d)
    return float(loss.detach())
