"""Proxy trainer: trains in seconds on a few KB, loss falls, deterministic; online sampler follows the loss."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from corpus.proxy.evaluate import EvalPoint
from corpus.proxy.model import GPT, GPTConfig
from corpus.proxy.online import OnlineSampler, OnlineSamplerConfig
from corpus.proxy.order import keyed_pass
from corpus.proxy.train import TrainError, TrainOptions, train
from corpus.spec import ProxySpec
from corpus.tokenize import tokenize_batch, train_bpe

PROSE = (
    "The harbour master walked along the quay before dawn, counting the fishing boats that had come back "
    "during the night. Most of the crews were asleep below deck, but on the last boat an old sailor was "
    "mending a torn sail by the light of a small lantern. "
)
CODE = "def add(a, b):\n    return a + b\n\nfor i in range(10):\n    print(add(i, i * 2))\n\n"
SMALL = ProxySpec(
    n_layer=1, n_head=2, n_embd=32, seq_len=32, batch_size=8, learning_rate=3e-3, eval_tokens=512, seed=0, device="cpu"
)


@pytest.fixture(scope="module")
def data():
    texts = {"prose": [PROSE * 3 for _ in range(12)], "code": [CODE * 4 for _ in range(12)]}
    tok = train_bpe([t for ts in texts.values() for t in ts], 300)
    arrays = {d: tokenize_batch(tok, ts) for d, ts in texts.items()}
    train_streams = {d: np.concatenate(a[:10]) for d, a in arrays.items()}
    val_streams = {d: np.concatenate(a[10:]) for d, a in arrays.items()}
    return tok.get_vocab_size(), train_streams, val_streams


def test_model_shapes_and_config_check():
    model = GPT(GPTConfig(vocab_size=50, block_size=16, n_layer=1, n_head=2, n_embd=16))
    x = torch.randint(0, 50, (3, 16))
    assert model(x).shape == (3, 16, 50)
    assert model.token_losses(x[:, :-1], x[:, 1:]).shape == (3, 15)
    with pytest.raises(ValueError, match="multiple of n_head"):
        GPTConfig(vocab_size=50, n_embd=30, n_head=4)


def test_training_reduces_loss_and_reports_tokens(data):
    vocab, train_streams, val_streams = data
    seen: list[EvalPoint] = []
    result = train(
        train_streams,
        val_streams,
        SMALL,
        40 * 8 * 32,
        vocab_size=vocab,
        options=TrainOptions(n_evals=3, eval_at_start=True),
        on_eval=seen.append,
    )
    assert result.steps == 40 and result.tokens_seen == 40 * 8 * 32
    assert sum(result.tokens_per_domain.values()) == result.tokens_seen
    assert [e.step for e in seen] == [0, 13, 27, 40] and [e.finished for e in seen] == [False, False, False, True]
    assert set(result.val_loss) == {"prose", "code"}
    start, end = seen[0].val_loss, seen[-1].val_loss
    for d in start:
        assert end[d] < start[d] - 1.0, (d, start[d], end[d])
    assert result.train_loss[-1][1] < result.train_loss[0][1]
    assert np.log(vocab) == pytest.approx(seen[0].average, abs=0.5)  # untrained ~ uniform over the vocabulary


def test_training_is_deterministic(data):
    vocab, train_streams, val_streams = data
    a = train(train_streams, val_streams, SMALL, 10 * 8 * 32, vocab_size=vocab)
    b = train(train_streams, val_streams, SMALL, 10 * 8 * 32, vocab_size=vocab)
    assert a.val_loss == b.val_loss and a.train_loss == b.train_loss
    c = train(train_streams, val_streams, SMALL.model_copy(update={"seed": 1}), 10 * 8 * 32, vocab_size=vocab)
    assert c.val_loss != a.val_loss


def test_fixed_mixture_follows_the_streams_shares(data):
    vocab, train_streams, val_streams = data
    lopsided = {"prose": train_streams["prose"], "code": train_streams["code"][: len(train_streams["code"]) // 4]}
    windows = {d: (len(s) - 1) // 32 for d, s in lopsided.items()}
    result = train(lopsided, val_streams, SMALL, None, vocab_size=vocab, options=TrainOptions(n_evals=1))
    assert result.steps == sum(windows.values()) // 8
    share = result.tokens_per_domain["code"] / result.tokens_seen
    assert share == pytest.approx(windows["code"] / sum(windows.values()), abs=0.05)
    assert all(p <= 1.0 for p in result.passes.values())


def test_online_sampler_moves_toward_the_high_loss_domain():
    sampler = OnlineSampler(
        ["easy", "hard"],
        {"easy": 0.5, "hard": 0.5},
        OnlineSamplerConfig(update_every=1, step_size=2.0, floor=0.05, reward="loss", max_shift=1.0),
        seed=0,
    )
    for step in range(1, 6):
        dom = sampler.sample(32)
        sampler.observe(dom, np.where(dom == 1, 5.0, 2.0))
        sampler.update(step)
    w = sampler.weights_dict()
    assert w["hard"] > 0.9 and w["easy"] >= 0.05 - 1e-12  # exploration floor holds
    assert len(sampler.trajectory) == 6 and sampler.trajectory[0][1] == {"easy": 0.5, "hard": 0.5}
    assert 0.5 < sampler.mean_weights()["hard"] < w["hard"]


def test_online_training_shifts_weight_to_the_hard_domain(data):
    vocab, train_streams, _val_streams = data
    rng = np.random.default_rng(0)
    streams = {
        "repetitive": np.tile(train_streams["code"][:40], 60),  # learnable: loss drops fast
        "noise": rng.integers(1, vocab, size=2400).astype(np.uint16),  # unlearnable: loss stays ~log(vocab)
    }
    spec = SMALL.model_copy(update={"online_sampler": True})
    result = train(
        streams,
        {"repetitive": streams["repetitive"][:300], "noise": streams["noise"][:300]},
        spec,
        60 * 8 * 32,
        vocab_size=vocab,
        options=TrainOptions(
            n_evals=2,
            online=OnlineSamplerConfig(update_every=5, step_size=1.0, floor=0.05, reward="loss", max_shift=1.0),
        ),
    )
    first, last = result.weight_trajectory[0][1], result.weight_trajectory[-1][1]
    assert first["noise"] == pytest.approx(0.5, abs=0.02)
    assert last["noise"] > 0.8 > first["noise"]
    assert len(result.weight_trajectory) == 1 + 60 // 5
    assert result.tokens_per_domain["noise"] > result.tokens_per_domain["repetitive"]
    assert result.evals[-1].weights == last


def test_progress_reward_prefers_the_learnable_domain_over_noise(data):
    """ADO-style reward: the unlearnable noise domain (flat loss) loses weight; raw loss would favour it."""
    vocab, train_streams, _ = data
    rng = np.random.default_rng(0)
    streams = {
        "repetitive": np.tile(train_streams["code"][:40], 60),
        "noise": rng.integers(1, vocab, size=2400).astype(np.uint16),
    }
    spec = SMALL.model_copy(update={"online_sampler": True})
    opts = TrainOptions(
        n_evals=1,
        online=OnlineSamplerConfig(update_every=5, floor=0.05, reward="progress", min_points=3, max_shift=1.0),
    )
    result = train(
        streams, {"repetitive": streams["repetitive"][:300]}, spec, 60 * 8 * 32, vocab_size=vocab, options=opts
    )
    assert result.weight_trajectory[-1][1]["repetitive"] > 0.6
    assert result.tokens_per_domain["repetitive"] > result.tokens_per_domain["noise"]


def test_errors_name_the_fix(data):
    vocab, train_streams, val_streams = data
    with pytest.raises(TrainError, match="less than one batch"):
        train(train_streams, val_streams, SMALL, 100, vocab_size=vocab)
    with pytest.raises(TrainError, match="tokens and tokenizer disagree"):
        train(train_streams, val_streams, SMALL, 8 * 32, vocab_size=10)
    with pytest.raises(TrainError, match="no domain has a full training sequence"):
        train({"a": train_streams["prose"][:10]}, {}, SMALL, 8 * 32, vocab_size=vocab)
    if not torch.cuda.is_available():
        with pytest.raises(TrainError, match="CUDA is not available"):
            train(train_streams, val_streams, SMALL.model_copy(update={"device": "cuda"}), 8 * 32, vocab_size=vocab)


def test_keyed_order_visits_shared_windows_in_the_same_relative_order():
    """Common random numbers: a mixture with more windows of one domain keeps the others' relative order."""
    small = {"a": np.arange(0, 640, 64), "b": np.arange(0, 320, 64)}
    large = {"a": np.arange(0, 640, 64), "b": np.arange(0, 1280, 64)}  # b: 5 -> 20 windows (a longer stream)
    one, two = keyed_pass(small, ["a", "b"], 3, 0), keyed_pass(large, ["a", "b"], 3, 0)
    assert len(one) == 15 and len(two) == 30
    shared = {tuple(r) for r in one.tolist()}
    assert [tuple(r) for r in two.tolist() if tuple(r) in shared] == [tuple(r) for r in one.tolist()]
    assert not np.array_equal(keyed_pass(small, ["a", "b"], 3, 1), one)  # a new pass, a new order
    assert not np.array_equal(keyed_pass(small, ["a", "b"], 4, 0), one)  # a new seed, a new order
    assert np.array_equal(keyed_pass(small, ["a", "b"], 3, 0), one)


def test_keyed_order_trains_deterministically(data):
    vocab, train_streams, val_streams = data
    opts = TrainOptions(n_evals=1, order="keyed")
    one = train(train_streams, val_streams, SMALL, 6 * 8 * 32, vocab_size=vocab, options=opts)
    two = train(train_streams, val_streams, SMALL, 6 * 8 * 32, vocab_size=vocab, options=opts)
    shuffled = train(train_streams, val_streams, SMALL, 6 * 8 * 32, vocab_size=vocab, options=TrainOptions(n_evals=1))
    assert one.val_loss == two.val_loss and one.train_loss == two.train_loss
    assert one.train_loss != shuffled.train_loss  # another order of the same windows
