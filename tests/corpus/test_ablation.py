"""Equal-token proxy ablations: the right arm wins with an interval, weights steer sampling, bad input is named."""

from __future__ import annotations

import random

import numpy as np
import pytest

from corpus.proxy.ablation import AVERAGE, AblationError, Arm, _stream, run_ablation
from corpus.tokenize import train_bpe

SENTENCES = [
    "The harbour master walked along the quay before dawn, counting the fishing boats.",
    "Most of the crews were asleep below deck after a long night at sea.",
    "On the last boat an old sailor was mending a torn sail by the light of a lantern.",
    "The gulls circled above the market where the first baskets of fish were sold.",
    "A cold wind came in from the north and the flags on the masts snapped loudly.",
    "Children ran between the nets while their mothers argued over the price of cod.",
]


def _prose(rng: random.Random, n: int) -> list[str]:
    return [" ".join(rng.choice(SENTENCES) for _ in range(6)) for _ in range(n)]


def _noise(rng: random.Random, n: int) -> list[str]:
    alphabet = "qxzjkvw0123456789#@%&"
    word = lambda: "".join(rng.choice(alphabet) for _ in range(rng.randint(2, 9)))  # noqa: E731
    return [" ".join(word() for _ in range(60)) for _ in range(n)]


@pytest.fixture(scope="module")
def corpus():
    rng = random.Random(0)
    clean, noisy, held_out = _prose(rng, 60), _noise(rng, 60), _prose(rng, 8)
    tok = train_bpe(clean + noisy, 320)
    return tok, clean, noisy, held_out


def test_clean_arm_beats_noisy_arm_at_seconds_size(corpus):
    tok, clean, noisy, held_out = corpus
    runs = []
    result = run_ablation(
        {"noisy": noisy, "clean": clean, "half": Arm(clean + noisy, weights=[1.0] * 60 + [1.0] * 60)},
        {"prose": held_out},
        tokenizer=tok,
        size="seconds",
        budget_tokens=8 * 32 * 30,
        seeds=[0, 1, 2],
        on_run=lambda arm, seed, res: runs.append((arm, seed, res.tokens_seen)),
    )
    assert result.baseline == "noisy" and result.targets == ["prose"]
    assert {r[2] for r in runs} == {8 * 32 * 30} and len(runs) == 9  # equal tokens, every arm x seed
    clean_vs = result.comparisons["clean"].delta[AVERAGE]
    assert clean_vs.n == 3 and clean_vs.high < 0, clean_vs  # clean text predicts held-out prose better
    assert result.comparisons["clean"].verdict() == "better"
    half = result.comparisons["half"].delta[AVERAGE].mean
    assert clean_vs.mean < half < 0  # half the tokens clean: in between
    assert all(f is not None and 0 < f <= 1 for f in result.comparisons["clean"].tokens_fraction)
    d = result.to_dict()
    assert d["comparisons"]["clean"]["verdict"] == "better"
    assert len(d["arms"]["clean"]["loss"]["prose"]) == 3
    assert "clean" in result.summary()


def test_same_seed_same_result(corpus):
    tok, clean, noisy, held_out = corpus
    kw = dict(tokenizer=tok, size="seconds", budget_tokens=8 * 32 * 5, seeds=[3])
    a = run_ablation({"a": clean, "b": noisy}, {"prose": held_out}, **kw)
    b = run_ablation({"a": clean, "b": noisy}, {"prose": held_out}, **kw)
    assert a.arms["b"].losses == b.arms["b"].losses


def test_weighted_stream_follows_weights():
    docs = [np.full(10, i, dtype=np.uint16) for i in range(4)]
    stream = _stream(docs, np.array([0.0, 1.0, 3.0, 0.0]), 40_000, seed=0)
    counts = np.bincount(stream, minlength=4)
    assert counts[0] == 0 and counts[3] == 0 and len(stream) >= 40_000
    assert counts[2] / counts[1] == pytest.approx(3.0, rel=0.1)
    plain = _stream(docs, None, 0, seed=0)
    assert sorted(np.bincount(plain).tolist()) == [10, 10, 10, 10]  # each document once, shuffled


def test_token_arrays_need_no_tokenizer():
    rng = np.random.default_rng(0)
    arm = [rng.integers(0, 50, 200) for _ in range(10)]
    target = {"t": rng.integers(0, 50, 300)}
    res = run_ablation(
        {"a": arm, "b": arm}, target, vocab_size=50, size="seconds", budget_tokens=8 * 32 * 2, seeds=[0, 1]
    )
    assert res.comparisons["b"].delta[AVERAGE].mean == pytest.approx(0.0, abs=1e-9)  # same data, same seeds
    assert res.comparisons["b"].verdict() == "no difference shown"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(arms={}), "no arms"),
        (dict(arms={"a": []}), "arm 'a' has no documents"),
        (dict(targets={}), "no targets"),
        (dict(baseline="zzz"), "baseline 'zzz' is not an arm"),
        (dict(size="huge"), "unknown ablation size"),
        (dict(seeds=[1, 1]), "distinct"),
        (dict(arms={"a": Arm(["x y z"], weights=[1.0, 2.0])}), "2 weights for 1 documents"),
        (dict(arms={"a": Arm(["x y z"], weights=[0.0])}), "every weight is 0"),
        (dict(tokenizer=None), "no tokenizer"),
    ],
)
def test_bad_input_is_named(corpus, kwargs, message):
    tok, clean, noisy, held_out = corpus
    args = dict(arms={"a": clean[:3], "b": noisy[:3]}, targets={"prose": held_out}, tokenizer=tok)
    args.update(vocab_size=tok.get_vocab_size(), size="seconds", budget_tokens=512, seeds=[0])
    args.update(kwargs)
    with pytest.raises(AblationError, match=message):
        run_ablation(args.pop("arms"), args.pop("targets"), **args)
