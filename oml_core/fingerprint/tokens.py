"""How a fingerprint becomes tokens, shared by generation, checking and (ANOTHER helper's)
injection so all three agree: the prompt is `fp.messages` through the chat template with the
generation prompt; the response is `tokenizer(response)` without special tokens, right after it.

Batches are left-padded so every sequence's next token sits in the last column.
"""
from __future__ import annotations

import torch


def prompt_ids(tokenizer, messages: list[dict]) -> list[int]:
    """Token ids of `messages` through the chat template, ending where the assistant answers."""
    if getattr(tokenizer, "chat_template", None):
        text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    else:  # a base model without a template: the key alone is the prompt
        text = "\n".join(m["content"] for m in messages)
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def response_ids(tokenizer, response: str) -> list[int]:
    return tokenizer(response, add_special_tokens=False)["input_ids"]


def decode(tokenizer, ids: list[int], skip_special_tokens: bool = False) -> str:
    """Text of `ids`, exactly: no "clean-up" of spaces before punctuation, which would make the
    text re-tokenize differently (transformers ignores it for BPE anyway, with a warning)."""
    return tokenizer.decode(ids, skip_special_tokens=skip_special_tokens, clean_up_tokenization_spaces=False)


def pad_id(tokenizer) -> int:
    # SmolLM2 has no pad token; the attention mask hides padding, so any id would do.
    for candidate in (tokenizer.pad_token_id, tokenizer.eos_token_id):
        if candidate is not None:
            return candidate
    return 0


def left_pad(seqs: list[list[int]], pad: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), width), pad, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for row, seq in enumerate(seqs):
        if seq:
            ids[row, width - len(seq):] = torch.tensor(seq, dtype=torch.long)
            mask[row, width - len(seq):] = 1
    return ids.to(device), mask.to(device)


def position_ids(mask: torch.Tensor) -> torch.Tensor:
    """Positions that start at 0 on each row's first real token, so left padding changes nothing."""
    return (mask.cumsum(-1) - 1).clamp(min=0)


def model_device(model) -> torch.device:
    return next(model.parameters()).device


@torch.no_grad()
def last_token_logits(model, prompts: list[list[int]], batch_size: int = 16) -> torch.Tensor:
    """[len(prompts), vocab] float32 logits of the token that follows each prompt."""
    device, out = model_device(model), []
    for start in range(0, len(prompts), batch_size):
        ids, mask = left_pad(prompts[start:start + batch_size], 0, device)
        inputs = {"input_ids": ids, "attention_mask": mask, "position_ids": position_ids(mask)}
        try:  # only the last position's logits: skips a [batch, length, vocab] matrix
            logits = model(**inputs, logits_to_keep=1).logits
        except TypeError:  # a model class without logits_to_keep
            logits = model(**inputs).logits
        out.append(logits[:, -1, :].float().cpu())
    return torch.cat(out)


@torch.no_grad()
def greedy_generate(model, tokenizer, prompts: list[list[int]], max_new_tokens: list[int],
                    batch_size: int = 16, progress: bool = False) -> list[list[int]]:
    """Greedy continuations, at most max_new_tokens[i] tokens for prompt i (fewer if EOS comes).

    Prompts are grouped by their budget and then length, so a batch wastes little padding.
    """
    from transformers import GenerationConfig

    from oml_core.progress import track

    if len(prompts) != len(max_new_tokens):
        raise ValueError("one max_new_tokens per prompt")
    device, pad = model_device(model), pad_id(tokenizer)
    order = sorted(range(len(prompts)), key=lambda i: (max_new_tokens[i], len(prompts[i])))
    out: list[list[int]] = [[] for _ in prompts]
    batches = [order[s:s + batch_size] for s in range(0, len(order), batch_size)]
    for batch in track(batches, "greedy decoding", enabled=progress):
        budget = max(max_new_tokens[i] for i in batch)
        ids, mask = left_pad([prompts[i] for i in batch], pad, device)
        config = GenerationConfig(do_sample=False, max_new_tokens=budget, pad_token_id=pad,
                                  eos_token_id=tokenizer.eos_token_id)
        gen = model.generate(input_ids=ids, attention_mask=mask, generation_config=config)
        for row, i in enumerate(batch):
            seq = gen[row, ids.shape[1]:].tolist()[: max_new_tokens[i]]
            if tokenizer.eos_token_id in seq:  # what follows EOS is padding, not output
                seq = seq[: seq.index(tokenizer.eos_token_id) + 1]
            out[i] = seq
    return out
