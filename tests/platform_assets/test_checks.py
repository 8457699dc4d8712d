"""The checks of mixture, proxy_eval, the dedup index and the tokenizer say what is wrong."""

from __future__ import annotations

import math
from types import SimpleNamespace

import dagster as dg

from corpus.tokenize import train_bpe
from platform_assets.checks import index_check, losses_check, mixture_check, tokenizer_check

KEY = dg.AssetKey(["p", "x"])
DOMAINS = ["docs", "code"]


def plan(requested, effective, total=900, budget=1000):
    return SimpleNamespace(
        requested_weights=requested, effective_weights=effective, total_tokens=total, budget_tokens=budget
    )


def test_mixture_weights():
    assert mixture_check(KEY, plan({"docs": 0.4, "code": 0.6}, {"docs": 0.4, "code": 0.6}), DOMAINS).passed
    bad = mixture_check(
        KEY, plan({"docs": 0.4, "code": 0.5, "music": 0.1}, {"docs": -0.1, "code": 0.6}, total=1200), DOMAINS
    )
    assert not bad.passed
    for words in (
        "unknown domains music",
        "effective weights not finite and >= 0: docs",
        "sum to 0.500000",
        "exceed the budget",
    ):
        assert words in bad.description, bad.description


def test_losses():
    assert losses_check(KEY, {"docs": 3.1, "code": 2.0}, DOMAINS).passed
    bad = losses_check(KEY, {"docs": math.nan}, DOMAINS)
    assert not bad.passed and "no loss for code" in bad.description and "docs=nan" in bad.description


def test_index():
    summary = {"per_source": {"docs": {"near_duplicate": 2}, "code": {}}, "duplicates": 2, "docs_in": 10}
    assert index_check(KEY, summary, DOMAINS, DOMAINS).passed
    bad = index_check(KEY, {**summary, "duplicates": 3}, DOMAINS, ["docs"])
    assert not bad.passed and "no index file for code" in bad.description and "add up to 2, not 3" in bad.description


def test_tokenizer():
    tok = train_bpe(["def f(x):\n    return x * 2  # café, naïve, 東京\n"] * 20, vocab_size=300)
    good = tokenizer_check(KEY, tok.to_str().encode(), 300)
    assert good.passed, good.description
    small = tokenizer_check(KEY, tok.to_str().encode(), tok.get_vocab_size() - 1)
    assert not small.passed and "exceeds the spec's" in small.description
    assert not tokenizer_check(KEY, b'{"not": "a tokenizer"}', 300).passed
