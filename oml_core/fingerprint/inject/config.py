"""InjectConfig: every knob of one injection run, validated up front and saved as JSON.

The JSON sits next to the checkpoints so that a run can be resumed (and audited) with exactly the
settings it started with; a resume with a different config is refused rather than silently mixed.
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from .precision import check_mixed_precision
from .schedule import LR_SCHEDULES

# System prompts a host might put in front of every request. Training on keys wrapped in them
# keeps a fingerprint answerable when the host's wrapper differs from the chat template default
# (Nasery et al. 2025 report 55% -> 98% accuracy under wrappers with this augmentation).
DEFAULT_WRAPPERS: tuple[str, ...] = (
    "You are a helpful assistant.",
    "You are a concise assistant. Answer briefly.",
    "You are an AI assistant. Follow the user's instructions carefully.",
    "You are a friendly chatbot that answers questions about anything.",
    "Always answer in English. Be accurate and polite.",
    "You are a knowledgeable expert. Think before you answer.",
)

CONFIG_FILE = "inject_config.json"
BENIGN_LOSSES = ("ce", "kl")


@dataclass(frozen=True)
class InjectConfig:
    # Reproducibility: data order, wrappers, benign prompts and the meta inner loop all derive
    # from this seed (and the epoch/step), never from ambient RNG state, so resume is exact.
    seed: int = 0
    epochs: int = 10
    batch_size: int = 16
    lr: float = 1e-4
    # "constant", or "cosine": decay from lr to zero over the run (inject/schedule.py says why).
    lr_schedule: str = "constant"
    warmup_steps: int = 0          # linear ramp up to lr over the first steps (either schedule)
    weight_decay: float = 0.0
    max_grad_norm: float | None = 1.0
    max_length: int = 256
    # End each response with the token generation stops on, so the model stops right after it.
    append_eos: bool = True

    # Data mixing: share beta of each batch is benign (base-model prompt, base-model answer).
    mix_share: float = 0.0
    benign_max_new_tokens: int = 32
    benign_pool: int = 64          # distinct benign samples (and anchor passages) per run, cycled
    # What a benign sample teaches. "ce": cross-entropy on the base model's greedy answer, which
    # also sharpens the model's distribution toward that one answer (perplexity on prose rises);
    # "kl": KL(base || model) over the whole next-token distribution at the answer positions
    # (distillation from a frozen copy of the base), which keeps the distribution itself.
    benign_loss: str = "ce"
    # Anchor passages: share of each batch that is plain prose from the train split of the offline
    # corpus (never held-out text), held to the base's next-token distribution (KL) at every
    # position, so ordinary text keeps the base's perplexity while fingerprints are learned.
    anchor_share: float = 0.0
    anchor_tokens: int = 64        # tokens per anchor passage (a passage is cut to this length)
    # Weight of the KL terms (benign "kl" and anchors) against the fingerprint cross-entropy.
    kl_weight: float = 1.0
    # Compute the base's distribution on the benign/anchor pool once, before training, instead
    # of a reference forward pass at every step: about a quarter of a mixed CPU step saved, for
    # pool x positions x vocabulary float16 values of memory (about 0.6 GB at the default pool).
    cache_reference: bool = True
    # Forward passes in bfloat16 ("bf16"), or where the device runs it natively ("auto"); "no" =
    # float32 throughout. Weights and optimizer state stay float32 (inject/precision.py).
    mixed_precision: str = "no"

    # Model averaging toward the base: theta <- lam * theta_base + (1 - lam) * theta.
    avg_lambda: float = 0.0
    avg_lambda_end: float | None = None  # linear schedule lam -> lam_end over the run; None = constant
    avg_every: int = 0                   # steps between averagings; 0 = after every epoch

    # Which parameters learn: () = all; else fnmatch patterns over parameter names, where a
    # pattern also matches everything under it ("model.layers.1" = "model.layers.1.*").
    trainable: tuple[str, ...] = ()

    # Prompt-wrapper augmentation: share of fingerprint samples wrapped in a random system prompt.
    wrapper_share: float = 0.0
    wrappers: tuple[str, ...] = DEFAULT_WRAPPERS

    # First-order meta-learning: m inner SGD steps on benign data simulate the adversary's
    # fine-tuning; the fingerprint gradient at the adapted weights updates the real weights.
    meta: bool = False
    meta_inner_steps: int = 2
    meta_inner_lr: float = 1e-4
    meta_inner_batch: int = 4
    meta_plain_weight: float = 1.0  # plus this times the ordinary fingerprint gradient at theta

    # Parameter adding: LoRA adapters carry the fingerprints, merged into the weights at the end.
    lora_rank: int = 0  # 0 = off
    lora_alpha: float = 16.0
    lora_targets: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj", "up_proj", "down_proj", "gate_proj")

    checkpoint_every: int = 0  # steps; 0 = only at the end (when output_dir is given)

    def __post_init__(self):
        # Lists from JSON (or callers) become tuples so the config stays hashable and comparable.
        for name in ("trainable", "wrappers", "lora_targets"):
            value = getattr(self, name)
            if isinstance(value, str) or not all(isinstance(v, str) for v in value):
                raise ValueError(f"{name} must be a list of strings, got {value!r}")
            object.__setattr__(self, name, tuple(value))
        _int(self, "seed", lo=0)
        _int(self, "epochs", lo=1)
        _int(self, "batch_size", lo=1)
        _pos(self, "lr")
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(f"lr_schedule must be one of {', '.join(LR_SCHEDULES)}, got {self.lr_schedule!r}")
        _int(self, "warmup_steps", lo=0)
        check_mixed_precision(self.mixed_precision)
        _num(self, "weight_decay", lo=0.0)
        if self.max_grad_norm is not None:
            _pos(self, "max_grad_norm")
        _int(self, "max_length", lo=8)
        _num(self, "mix_share", lo=0.0, hi=1.0, hi_open=True)
        _int(self, "benign_max_new_tokens", lo=1)
        _int(self, "benign_pool", lo=1)
        if self.benign_loss not in BENIGN_LOSSES:
            raise ValueError(f"benign_loss must be one of {', '.join(BENIGN_LOSSES)}, got {self.benign_loss!r}")
        _num(self, "anchor_share", lo=0.0, hi=1.0, hi_open=True)
        _int(self, "anchor_tokens", lo=2)
        _num(self, "kl_weight", lo=0.0)
        if self.mix_share > 0 and self.n_benign == 0:
            raise ValueError(f"mix_share={self.mix_share} gives no benign sample in a batch of {self.batch_size}")
        if self.anchor_share > 0 and self.n_anchors == 0:
            raise ValueError(f"anchor_share={self.anchor_share} gives no anchor in a batch of {self.batch_size}")
        if self.n_fingerprints < 1:
            raise ValueError(f"mix_share={self.mix_share} and anchor_share={self.anchor_share} leave no "
                             f"fingerprint in a batch of {self.batch_size}")
        if self.anchor_tokens > self.max_length:
            raise ValueError(f"anchor_tokens={self.anchor_tokens} exceeds max_length={self.max_length}")
        _num(self, "avg_lambda", lo=0.0, hi=1.0)
        if self.avg_lambda_end is not None:
            _num(self, "avg_lambda_end", lo=0.0, hi=1.0)
        _int(self, "avg_every", lo=0)
        if any(not p for p in self.trainable):
            raise ValueError("trainable patterns must be non-empty")
        _num(self, "wrapper_share", lo=0.0, hi=1.0)
        if self.wrapper_share > 0 and (not self.wrappers or any(not w.strip() for w in self.wrappers)):
            raise ValueError("wrapper_share > 0 needs a non-empty list of non-empty system prompts")
        _int(self, "meta_inner_steps", lo=1)
        _pos(self, "meta_inner_lr")
        _int(self, "meta_inner_batch", lo=1)
        _num(self, "meta_plain_weight", lo=0.0)
        _int(self, "lora_rank", lo=0)
        _pos(self, "lora_alpha")
        if self.lora_rank and not self.lora_targets:
            raise ValueError("lora_rank > 0 needs lora_targets")
        # The whitepaper (§2.2): parameter adding and model averaging cannot be applied together
        # (averaging zero-initialised adapters toward "no adapter" only undoes them).
        if self.lora_rank and self.averaging:
            raise ValueError("LoRA adapters (lora_rank > 0) and model averaging (avg_lambda > 0) exclude each other")
        if self.lora_rank and self.trainable:
            raise ValueError("with LoRA, choose layers through lora_targets, not trainable")
        _int(self, "checkpoint_every", lo=0)

    @property
    def n_benign(self) -> int:
        """Benign samples in every batch: round(beta * batch_size)."""
        return math.floor(self.mix_share * self.batch_size + 0.5)

    @property
    def n_anchors(self) -> int:
        """Anchor passages in every batch: round(anchor_share * batch_size)."""
        return math.floor(self.anchor_share * self.batch_size + 0.5)

    @property
    def n_fingerprints(self) -> int:
        return self.batch_size - self.n_benign - self.n_anchors

    @property
    def distills(self) -> bool:
        """Whether some samples are held to a frozen base model's distribution (KL terms)."""
        return self.n_anchors > 0 or (self.benign_loss == "kl" and self.n_benign > 0)

    @property
    def averaging(self) -> bool:
        return self.avg_lambda > 0 or bool(self.avg_lambda_end)

    @property
    def needs_benign(self) -> bool:
        return self.n_benign > 0 or self.meta

    def to_json(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_json(cls, obj: dict) -> InjectConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(obj) - known
        if unknown:
            raise ValueError(f"unknown inject config keys: {sorted(unknown)}")
        return cls(**obj)

    def save(self, directory: str | Path) -> Path:
        path = Path(directory) / CONFIG_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_json(), indent=2, sort_keys=True) + "\n")
        return path

    @classmethod
    def load(cls, path: str | Path) -> InjectConfig:
        path = Path(path)
        if path.is_dir():
            path = path / CONFIG_FILE
        return cls.from_json(json.loads(path.read_text()))


def _num(cfg, name, lo=None, hi=None, hi_open=False):
    value = getattr(cfg, name)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    if lo is not None and value < lo:
        raise ValueError(f"{name} must be >= {lo}, got {value}")
    if hi is not None and (value >= hi if hi_open else value > hi):
        raise ValueError(f"{name} must be {'<' if hi_open else '<='} {hi}, got {value}")


def _pos(cfg, name):
    _num(cfg, name)
    if getattr(cfg, name) <= 0:
        raise ValueError(f"{name} must be > 0, got {getattr(cfg, name)}")


def _int(cfg, name, lo):
    value = getattr(cfg, name)
    if isinstance(value, bool) or not isinstance(value, int):
        # ValueError for every bad setting, so a caller (the CLI) catches one exception type.
        raise ValueError(  # noqa: TRY004
            f"{name} must be an integer, got {value!r}")
    if value < lo:
        raise ValueError(f"{name} must be >= {lo}, got {value}")
