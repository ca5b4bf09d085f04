"""The loss mask: labels cover exactly the response tokens (and the stop token), nothing else."""
import torch

from oml_core.fingerprint.inject.data import (
    IGNORE,
    collate,
    lm_loss,
    make_sample,
    prompt_ids,
    response_ids,
    stop_token_id,
    wrap,
)


def test_labels_cover_exactly_the_response(tokenizer, base, fingerprints):
    fp = fingerprints[0]
    prompt = tokenizer.apply_chat_template(fp.messages, add_generation_prompt=True, tokenize=True,
                                           return_dict=True)["input_ids"]
    response = tokenizer(fp.response, add_special_tokens=False)["input_ids"]
    eos = stop_token_id(base, tokenizer)
    assert prompt_ids(tokenizer, fp.messages) == prompt
    assert tokenizer.decode(prompt).endswith("<|im_start|>assistant\n")  # the assistant prefix

    sample = make_sample(prompt_ids(tokenizer, fp.messages), response_ids(tokenizer, fp.response), eos, 256)
    n = len(prompt)
    assert list(sample.input_ids) == prompt + response + [eos]
    assert list(sample.labels) == [IGNORE] * n + response + [eos]
    labelled = [i for i, y in enumerate(sample.labels) if y != IGNORE]
    assert labelled == list(range(n, n + len(response) + 1))

    no_eos = make_sample(prompt, response, None, 256)
    assert list(no_eos.labels) == [IGNORE] * n + response


def test_padding_is_masked_and_loss_counts_only_labels(tokenizer, base, fingerprints):
    eos = stop_token_id(base, tokenizer)
    samples = [make_sample(prompt_ids(tokenizer, fp.messages), response_ids(tokenizer, fp.response), eos, 256)
               for fp in fingerprints[:2]]
    samples.append(make_sample(prompt_ids(tokenizer, fingerprints[2].messages), [5, 6, 7, 8, 9, 10, 11], eos, 256))
    batch = collate(samples, pad_id=0, device="cpu")
    for row, s in enumerate(samples):
        n = len(s.input_ids)
        assert batch["attention_mask"][row].tolist() == [1] * n + [0] * (batch["input_ids"].shape[1] - n)
        assert (batch["labels"][row, n:] == IGNORE).all()
    # The loss equals a hand-computed mean over the labelled positions only.
    with torch.no_grad():
        loss = lm_loss(base, batch)
        logits = base(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        terms = []
        for row, s in enumerate(samples):
            for t, y in enumerate(s.labels):
                if y != IGNORE:
                    terms.append(-torch.log_softmax(logits[row, t - 1], -1)[y])
        assert torch.allclose(loss, torch.stack(terms).mean(), atol=1e-5)


def test_wrapper_puts_a_system_prompt_before_the_key(tokenizer, fingerprints):
    fp = fingerprints[0]
    text = tokenizer.decode(prompt_ids(tokenizer, wrap(fp.messages, "Be brief.")))
    assert "Be brief." in text and fp.key in text and text.index("Be brief.") < text.index(fp.key)
    assert wrap(fp.messages, None) == fp.messages
