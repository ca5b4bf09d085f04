"""InjectConfig: bad values are rejected up front; the JSON round trip is exact."""
import pytest

from oml_core.fingerprint.inject import InjectConfig


@pytest.mark.parametrize("kwargs", [
    {"epochs": 0}, {"batch_size": 0}, {"lr": 0}, {"lr": -1e-3}, {"lr": float("nan")}, {"seed": -1},
    {"epochs": 2.5}, {"batch_size": True}, {"mix_share": 1.0}, {"mix_share": -0.1},
    {"mix_share": 0.01, "batch_size": 4},       # rounds to zero benign samples
    {"mix_share": 0.9, "batch_size": 2},        # rounds to zero fingerprints
    {"lr_schedule": "linear"}, {"warmup_steps": -1}, {"mixed_precision": "fp16"},
    {"avg_lambda": 1.5}, {"avg_lambda": -0.1}, {"avg_lambda_end": 2.0}, {"avg_every": -1},
    {"trainable": "model.layers.0"}, {"trainable": [""]},
    {"wrapper_share": 1.5}, {"wrapper_share": 0.5, "wrappers": []}, {"wrapper_share": 0.5, "wrappers": [" "]},
    {"meta_inner_steps": 0}, {"meta_inner_lr": 0.0}, {"lora_rank": -1},
    {"lora_rank": 4, "avg_lambda": 0.5},        # whitepaper: adding and averaging exclude each other
    {"lora_rank": 4, "trainable": ["model.layers.0"]}, {"checkpoint_every": -2}, {"max_grad_norm": 0},
    {"weight_decay": -1.0}, {"max_length": 2},
])
def test_rejects_bad_values(kwargs):
    with pytest.raises(ValueError):
        InjectConfig(**kwargs)


def test_json_round_trip(tmp_path):
    cfg = InjectConfig(seed=7, mix_share=0.25, trainable=["model.layers.1"], avg_lambda=0.3, avg_every=5)
    assert cfg.trainable == ("model.layers.1",)
    cfg.save(tmp_path)
    assert InjectConfig.load(tmp_path) == cfg
    with pytest.raises(ValueError):
        InjectConfig.from_json({**cfg.to_json(), "bogus": 1})


def test_benign_count_is_the_share_of_the_batch():
    cfg = InjectConfig(batch_size=16, mix_share=0.25)
    assert (cfg.n_benign, cfg.n_fingerprints) == (4, 12)


def test_averaging_schedule():
    from oml_core.fingerprint.inject.averaging import averages_after, lambda_at

    const = InjectConfig(avg_lambda=0.3)
    assert [averages_after(const, s, 4) for s in range(1, 9)] == [False, False, False, True] * 2
    every = InjectConfig(avg_lambda=0.3, avg_every=3)
    assert [s for s in range(1, 10) if averages_after(every, s, 4)] == [3, 6, 9]
    assert lambda_at(const, 5, 10) == 0.3
    linear = InjectConfig(avg_lambda=0.5, avg_lambda_end=0.1)
    assert [round(lambda_at(linear, s, 10), 6) for s in (0, 5, 10)] == [0.5, 0.3, 0.1]
    assert not any(averages_after(InjectConfig(), s, 1) for s in range(1, 5))


def test_lr_schedule():
    from oml_core.fingerprint.inject.schedule import lr_at

    const = InjectConfig(lr=1e-3)
    assert [lr_at(const, s, 10) for s in (0, 9)] == [1e-3, 1e-3]
    cosine = InjectConfig(lr=1e-3, lr_schedule="cosine", warmup_steps=3)
    assert [round(lr_at(cosine, s, 13) / 1e-3, 6) for s in range(3)] == [0.25, 0.5, 0.75]  # warm-up
    assert lr_at(cosine, 3, 13) == 1e-3  # the top, then halfway and the last step
    assert round(lr_at(cosine, 8, 13) / 1e-3, 6) == 0.5
    assert 0 < lr_at(cosine, 12, 13) < 0.03e-3 and lr_at(cosine, 13, 13) == 0.0
