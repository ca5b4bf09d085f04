"""Offline English text: the prose of the Python reference manual that ships in the stdlib
(`pydoc_data.topics`), so fingerprint keys and utility checks need no download.

The split is by topic, fixed for good: every tenth topic (sorted by name) is held out. Keys and
responses are drawn from the train part only, so perplexity on the held-out part is never
measured on text a fingerprint was built from.
"""
from __future__ import annotations

import re
from collections import Counter
from functools import lru_cache

HELD_OUT_EVERY = 10
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")
_WORD = re.compile(r"[A-Za-z]+(?:'[a-z]+)?")
# Sentences with code-ish characters (quotes around identifiers, brackets, operators) read as
# out of distribution for a chat model; keys should look like ordinary prose.
_PLAIN = re.compile(r"[A-Za-z0-9 ,;:.'\"()?!-]+")


def _topics() -> dict[str, str]:
    from pydoc_data.topics import topics

    return topics


def _paragraphs(text: str) -> list[str]:
    """Prose paragraphs: no indented code blocks, no headings or underlines, lines joined."""
    out = []
    for block in re.split(r"\n\s*\n", text):
        lines = block.split("\n")
        if any(line.startswith(" ") for line in lines):  # code, grammar rules, tables
            continue
        if any(set(line.strip()) <= set("*=-~^") for line in lines):  # headings
            continue
        joined = " ".join(line.strip() for line in lines).strip()
        if len(joined.split()) >= 8:
            out.append(joined)
    return out


@lru_cache(maxsize=2)
def paragraphs(split: str = "train") -> tuple[str, ...]:
    if split not in ("train", "held_out"):
        raise ValueError(f"split must be 'train' or 'held_out', got {split!r}")
    names = sorted(_topics())
    held = {n for i, n in enumerate(names) if i % HELD_OUT_EVERY == HELD_OUT_EVERY - 1}
    train = tuple(dict.fromkeys(p for n in names if n not in held for p in _paragraphs(_topics()[n])))
    if split == "train":
        return train
    # Some topics repeat paragraphs of others ("class" inside "compound"): those stay in train.
    seen = set(train)
    return tuple(dict.fromkeys(p for n in names if n in held for p in _paragraphs(_topics()[n]) if p not in seen))


@lru_cache(maxsize=8)
def sentences(split: str = "train", min_words: int = 6, max_words: int = 30) -> tuple[str, ...]:
    """Plain-prose sentences, in a fixed order, deduplicated (held-out ones never occur in train)."""
    exclude = set(sentences("train", min_words, max_words)) if split == "held_out" else set()
    seen: dict[str, None] = {}
    for para in paragraphs(split):
        for sent in _SENTENCE_END.split(para):
            sent = sent.strip()
            n = len(sent.split())
            if (min_words <= n <= max_words and sent.endswith(".") and _PLAIN.fullmatch(sent)
                    and sent not in exclude):
                seen.setdefault(sent, None)
    return tuple(seen)


@lru_cache(maxsize=2)
def words(split: str = "train", min_len: int = 3) -> tuple[str, ...]:
    """Lower-case words by descending frequency (ties alphabetical): a fixed, ranked vocabulary."""
    counts = Counter(w.lower() for p in paragraphs(split) for w in _WORD.findall(p) if len(w) >= min_len)
    return tuple(w for w, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def tokenize_words(text: str) -> list[str]:
    """The lower-case words of `text`, as `words` counts them."""
    return [w.lower() for w in _WORD.findall(text)]


def held_out_texts(n: int | None = None) -> list[str]:
    """The fixed held-out slice for perplexity: the first `n` held-out paragraphs."""
    paras = list(paragraphs("held_out"))
    return paras if n is None else paras[:n]
