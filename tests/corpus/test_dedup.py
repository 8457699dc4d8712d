"""Global dedup operators: exact copies, MinHash near-duplicates, survivor rule, determinism.

The planted-copy tests perturb documents to known word-5-gram Jaccard similarities (computed
independently, with datatrove's ``simplify_text`` and plain Python sets) and check that
pairs above 0.8 are merged, pairs below 0.5 are not, and exact copies always go.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from pydantic import ValidationError

from corpus.ops import dedup, registry
from corpus.ops.dedup import (
    REASON_EXACT,
    REASON_NEAR,
    ExactDedupConfig,
    MinhashDedupConfig,
    dedup_exact,
    dedup_minhash,
)

PARAGRAPH = (
    "The harbour master walked along the quay before dawn, counting the fishing boats that had "
    "come back during the night and noting which of them still carried their nets. Most of the "
    "crews were asleep below deck, but on the last boat an old sailor was mending a torn sail "
    "by the light of a small lantern, humming a song that nobody else in the town remembered."
)
OTHER = (
    "Photosynthesis converts light energy into chemical energy stored in glucose. Plants absorb "
    "carbon dioxide through small pores in their leaves and release oxygen as a by-product, "
    "which is why forests matter so much for the composition of the atmosphere we breathe."
)


def frame(rows: list[tuple[str, str, int]]) -> pl.DataFrame:
    """(id, text, source_rank) rows -> a dedup input batch."""
    return pl.DataFrame(
        {
            "id": [r[0] for r in rows],
            "text": [r[1] for r in rows],
            "source": [f"s{r[2]}" for r in rows],
            "source_rank": [r[2] for r in rows],
        }
    )


def drops(out: pl.DataFrame) -> dict[str, tuple[str, str]]:
    """id -> (reason, duplicate_of)."""
    return {i: (r, d) for i, r, d in out.iter_rows()}


def root_of(out: pl.DataFrame):
    dup = dict(zip(out["id"].to_list(), out["duplicate_of"].to_list(), strict=True))
    return lambda doc_id: dup.get(doc_id, doc_id)


# ----------------------------------------------------------------------------- registry


def test_both_operators_are_registered_as_global_dedup():
    for key, reasons in (("dedup_exact@1", {REASON_EXACT}), ("dedup_minhash@1", {REASON_EXACT, REASON_NEAR})):
        op = registry._REGISTRY[key]  # get_operator would import every operator module
        assert op.kind == "global"
        assert op.tags == ("dedup",)
        assert set(op.reasons) == reasons
        assert op.describe()["defaults"]  # every config field has a default


def test_minhash_defaults_match_datatrove():
    from datatrove.pipeline.dedup.minhash import MinhashConfig
    from datatrove.utils.text import DEF_TEXT_NORM_CONFIG, PUNCTUATION

    ours, theirs = MinhashDedupConfig(), MinhashConfig()
    assert (ours.n_grams, ours.num_buckets, ours.hashes_per_bucket, ours.seed) == (
        theirs.n_grams,
        theirs.num_buckets,
        theirs.hashes_per_bucket,
        theirs.seed,
    )
    assert ours.num_hashes == 112 and theirs.hash_config.precision == 64
    norm = ours.normalization
    assert (norm.lowercase, norm.strip_punctuation, norm.normalize_numbers, norm.strip_diacritics) == (
        DEF_TEXT_NORM_CONFIG.lowercase,
        DEF_TEXT_NORM_CONFIG.remove_punctuation,
        DEF_TEXT_NORM_CONFIG.norm_numbers,
        DEF_TEXT_NORM_CONFIG.norm_unicode_diacritics,
    )
    assert dedup.PUNCTUATION == PUNCTUATION
    assert 0.70 < ours.threshold < 0.74


# ----------------------------------------------------------------------------- config


@pytest.mark.parametrize(
    ("raw", "field", "words"),
    [
        ({"num_buckets": 64, "hashes_per_bucket": 32}, "config", "64 * 32"),
        ({"n_grams": 0}, "n_grams", "greater than or equal to 1"),
        ({"hashes_per_bucket": 0}, "hashes_per_bucket", "greater than or equal to 1"),
        ({"seed": -1}, "seed", "greater than or equal to 0"),
        ({"bands": 14}, "bands", "Extra inputs are not permitted"),
        ({"normalization": {"lowercase": True, "stem": True}}, "normalization.stem", "Extra inputs"),
    ],
)
def test_bad_minhash_configs_name_the_field(raw, field, words):
    errors = registry.config_errors(registry._REGISTRY["dedup_minhash@1"], raw)
    assert errors, raw
    assert any(path == field and words in msg for path, msg in errors), errors


def test_oversized_signature_error_says_how_to_fix():
    with pytest.raises(ValidationError, match="lower num_buckets or hashes_per_bucket"):
        MinhashDedupConfig(num_buckets=200, hashes_per_bucket=8)
    assert MinhashDedupConfig(num_buckets=128, hashes_per_bucket=8).num_hashes == 1024


def test_exact_config_rejects_unknown_keys():
    assert registry.config_errors(registry._REGISTRY["dedup_exact@1"], {"lowercase": True})
    assert registry.config_errors(registry._REGISTRY["dedup_exact@1"], {"normalization": {"lowercase": False}}) == []


# ----------------------------------------------------------------------------- literal texts


@pytest.mark.parametrize("op", [dedup_exact, dedup_minhash], ids=["exact", "minhash"])
def test_exact_copy_across_sources_keeps_the_higher_priority_source(op):
    web = frame([("w1", PARAGRAPH, 1), ("w2", OTHER, 1)])
    books = frame([("b1", "  " + PARAGRAPH.upper().replace(",", " ,") + "\n", 0)])
    config = ExactDedupConfig() if op is dedup_exact else MinhashDedupConfig()
    out = op([web, books], config)
    assert drops(out) == {"w1": (REASON_EXACT, "b1")}
    assert out.schema == pl.Schema(dedup.OUTPUT_SCHEMA)


def test_near_copy_is_detected_and_different_texts_are_kept():
    near = PARAGRAPH.replace("remembered.", "remembered any more.")  # word 5-gram Jaccard 0.97
    other_near = OTHER.replace("we breathe.", "we breathe every day.")
    batch = frame([("a", PARAGRAPH, 0), ("b", near, 1), ("c", OTHER, 0), ("d", other_near, 2)])
    assert drops(dedup_minhash([batch], MinhashDedupConfig())) == {
        "b": (REASON_NEAR, "a"),
        "d": (REASON_NEAR, "c"),
    }
    # the exact operator leaves near copies alone
    assert dedup_exact([batch], ExactDedupConfig()).height == 0


def test_survivor_is_lowest_source_rank_then_smallest_id():
    near = PARAGRAPH.replace("harbour master", "harbor master")
    batch = frame([("z9", PARAGRAPH, 2), ("m5", near, 1), ("k3", PARAGRAPH, 1), ("a0", near, 3)])
    out = drops(dedup_minhash([batch], MinhashDedupConfig()))
    # cluster {z9, m5, k3, a0}: rank 1 wins, then id "k3" < "m5"
    assert out == {
        "z9": (REASON_EXACT, "k3"),  # same text as the survivor
        "m5": (REASON_NEAR, "k3"),
        "a0": (REASON_NEAR, "k3"),  # exact copy of m5, but a near copy of the survivor
    }


def test_numbers_are_normalized_for_minhash_but_not_for_exact():
    a = "Tom has 12 apples and gives 5 of them to Anna, who already had 3 apples in her basket at home."
    b = a.replace("12", "17").replace(" 5 ", " 4 ")
    batch = frame([("a", a, 0), ("b", b, 0)])
    assert dedup_exact([batch], ExactDedupConfig()).height == 0
    assert drops(dedup_minhash([batch], MinhashDedupConfig())) == {"b": (REASON_NEAR, "a")}
    keep_numbers = MinhashDedupConfig(normalization={"normalize_numbers": False, "strip_diacritics": True})
    assert dedup_minhash([batch], keep_numbers).height == 0


def test_short_and_empty_documents():
    rows = [("a", "Hello world", 0), ("b", "hello,  WORLD!", 1), ("c", "hello there", 0), ("d", "", 0), ("e", "?!", 1)]
    batch = frame(rows)
    out = drops(dedup_minhash([batch], MinhashDedupConfig()))
    assert out == {"b": (REASON_EXACT, "a"), "e": (REASON_EXACT, "d")}
    # without the exact pass, identical short texts still match through their single shingle;
    # texts without any word have no signature and are left alone
    out = drops(dedup_minhash([batch], MinhashDedupConfig(remove_exact_duplicates=False)))
    assert out == {"b": (REASON_NEAR, "a")}


def test_empty_and_degenerate_inputs():
    assert dedup_minhash([], MinhashDedupConfig()).schema == pl.Schema(dedup.OUTPUT_SCHEMA)
    assert dedup_exact([frame([])], ExactDedupConfig()).height == 0
    assert dedup_minhash([frame([("a", PARAGRAPH, 0)])], MinhashDedupConfig()).height == 0


def test_missing_column_and_repeated_ids_are_explained():
    with pytest.raises(ValueError, match=r"batch 0 lacks column\(s\) \['source_rank'\]"):
        dedup_minhash([frame([("a", PARAGRAPH, 0)]).drop("source_rank")], MinhashDedupConfig())
    with pytest.raises(ValueError, match=r"\['a'\].*appear more than once"):
        dedup_exact([frame([("a", PARAGRAPH, 0)]), frame([("a", OTHER, 1)])], ExactDedupConfig())


# ----------------------------------------------------------------------------- shingling fidelity


def reference_shingles(text: str, n: int = 5) -> set[tuple[str, ...]]:
    """datatrove's normalization, whitespace words, n-grams (all words when fewer than n)."""
    from datatrove.utils.text import simplify_text

    words = simplify_text(text).split()
    if 0 < len(words) < n:
        return {tuple(words)}
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


def jaccard(a: str, b: str) -> float:
    sa, sb = reference_shingles(a), reference_shingles(b)
    return len(sa & sb) / max(len(sa | sb), 1)


def test_normalization_matches_datatrove_simplify_text():
    from datatrove.utils.text import simplify_text

    samples = [
        PARAGRAPH,
        "Héllo, Wörld! 3.14 apples; 1,000 ... Don't  stop\t\n NOW — ok? ٣٫٥ x\u00a0y \u3000 façade",
        "Ελληνικά ΣΟΦΟΣ, Привет мир 2024-01-05; naïve café «quoted» 【brackets】",
    ]
    ours = dedup._normalize(pl.Series(samples), MinhashDedupConfig().normalization, words=True).to_list()
    assert [o.split(" ") for o in ours] == [simplify_text(s).split() for s in samples]


def normalized_bytes(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    words = dedup._normalize(pl.Series(texts), MinhashDedupConfig().normalization, words=True)
    return dedup._utf8_bytes(words)


def test_shingle_hashes_are_the_set_of_word_ngrams():
    texts = [PARAGRAPH, PARAGRAPH.replace("quay", "pier"), OTHER, "one two three", "", "a b c d e f"]
    hasher = dedup.MinHasher.from_config(MinhashDedupConfig())
    data, offsets = normalized_bytes(texts)
    shingles = hasher.shingles(data, offsets)
    per_doc = np.split(shingles.hashes, np.cumsum(shingles.counts)[:-1])
    sets = [set(h.tolist()) for h in per_doc]
    for text, hashes in zip(texts, sets, strict=True):
        assert len(hashes) == len(reference_shingles(text))
    # the same n-gram hashes the same wherever it occurs, so hash-set Jaccard is the true one
    for i in range(len(texts)):
        for j in range(len(texts)):
            union = len(sets[i] | sets[j])
            assert (len(sets[i] & sets[j]) / union if union else 0.0) == pytest.approx(jaccard(texts[i], texts[j]))


def test_minhash_signatures_estimate_jaccard():
    rng = random.Random(3)
    base = synthetic_corpus(40, rng)
    copies = [perturb(t, rate, rng, VOCAB) for t, rate in zip(base, np.linspace(0.0, 0.3, 40), strict=True)]
    hasher = dedup.MinHasher.from_config(MinhashDedupConfig())
    data, offsets = normalized_bytes(base + copies)
    sig, has = hasher.signatures(hasher.shingles(data, offsets))
    assert has.tolist() == list(range(80))
    estimated = (sig[:40] == sig[40:]).mean(axis=1)
    true = np.array([jaccard(a, b) for a, b in zip(base, copies, strict=True)])
    assert np.abs(estimated - true).mean() < 0.04
    assert np.abs(estimated - true).max() < 0.15  # 112 hashes: standard error <= 0.047


# ----------------------------------------------------------------------------- determinism


def test_same_result_for_any_batch_split_order_and_chunking(monkeypatch):
    rng = random.Random(11)
    base = synthetic_corpus(120, rng)
    plants = plant_pairs(base, rng, n_pairs=80)
    texts = base + [p.text for p in plants]
    ids = [f"{rng.getrandbits(64):016x}" for _ in texts]
    ranks = [rng.randrange(3) for _ in texts]
    whole = pl.DataFrame({"id": ids, "text": texts, "source": "s", "source_rank": ranks})
    expected = dedup_minhash([whole], MinhashDedupConfig())
    assert expected.height > 40

    order = list(range(len(texts)))
    rng.shuffle(order)
    shuffled = whole[order]
    cuts = sorted(rng.sample(range(1, len(texts)), 9))
    batches = [shuffled[a:b] for a, b in zip([0, *cuts], [*cuts, len(texts)], strict=True)]
    assert dedup_minhash(batches, MinhashDedupConfig()).equals(expected)
    assert dedup_minhash(reversed(batches), MinhashDedupConfig()).equals(expected)
    monkeypatch.setattr(dedup, "CHUNK_BYTES", 3000)  # many chunks per batch
    assert dedup_minhash([whole], MinhashDedupConfig()).equals(expected)
    assert dedup_exact(batches, ExactDedupConfig()).equals(dedup_exact([whole], ExactDedupConfig()))


# ----------------------------------------------------------------------------- planted copies

SYLLABLES = ["ka", "lo", "mi", "ren", "to", "sa", "vel", "dor", "an", "is", "pu", "que", "ri", "zon", "el", "ba"]
VOCAB = sorted({"".join(random.Random(i).choices(SYLLABLES, k=1 + i % 3)) for i in range(6000)})


def synthetic_corpus(n_docs: int, rng: random.Random) -> list[str]:
    """Documents of Zipf-distributed pseudo-words in sentences: realistic n-gram statistics."""
    weights = 1.0 / np.arange(1, len(VOCAB) + 1)
    docs = []
    for _ in range(n_docs):
        words = rng.choices(VOCAB, weights=weights, k=rng.randrange(60, 400))
        sentences, i = [], 0
        while i < len(words):
            k = rng.randrange(6, 20)
            sentences.append(" ".join(words[i : i + k]).capitalize() + rng.choice([".", ".", "?", "!"]))
            i += k
        docs.append(" ".join(sentences))
    return docs


def perturb(text: str, rate: float, rng: random.Random, vocab: list[str]) -> str:
    """Delete, replace or insert words, each with probability rate/3 per word."""
    out: list[str] = []
    for word in text.split(" "):
        r = rng.random()
        if r < rate / 3:
            continue
        if r < 2 * rate / 3:
            out.append(rng.choice(vocab))
        elif r < rate:
            out += [word, rng.choice(vocab)]
        else:
            out.append(word)
    return " ".join(out)


@dataclass(frozen=True)
class Plant:
    original: int  # index of the document it was made from
    text: str
    jaccard: float  # true word-5-gram Jaccard with the original
    exact: bool  # a copy that only differs in case and whitespace


# per-word edit rates: exact copies, then a spread from J ~ 0.99 down to J ~ 0.1
RATES = (0.0, 0.0, 0.004, 0.01, 0.015, 0.02, 0.03, 0.045, 0.06, 0.09, 0.13, 0.2, 0.35)


def plant_pairs(texts: list[str], rng: random.Random, n_pairs: int, vocab: list[str] = VOCAB) -> list[Plant]:
    plants = []
    for i in rng.sample(range(len(texts)), n_pairs):
        rate = rng.choice(RATES)
        if rate == 0.0:
            copy = "  ".join(texts[i].upper().split(" ")) + "\n"
            plants.append(Plant(i, copy, 1.0, True))
        else:
            copy = perturb(texts[i], rate, rng, vocab)
            plants.append(Plant(i, copy, jaccard(texts[i], copy), False))
    return plants


@dataclass(frozen=True)
class Scores:
    recall_high: float  # share of pairs with J >= 0.8 that were merged
    merged_low: float  # share of pairs with J < 0.5 that were merged (should be ~0)
    precision: float  # share of dropped documents with J >= 0.5 to their duplicate_of
    exact_removed: float
    counts: dict[str, int]


def score(base: list[str], plants: list[Plant], out: pl.DataFrame) -> Scores:
    texts = base + [p.text for p in plants]
    root = root_of(out)
    merged = np.array([root(f"d{p.original}") == root(f"d{len(base) + k}") for k, p in enumerate(plants)])
    jac = np.array([p.jaccard for p in plants])
    exact = np.array([p.exact for p in plants])
    high, low = (jac >= 0.8) & ~exact, jac < 0.5
    pairs = zip(out["id"].to_list(), out["duplicate_of"].to_list(), strict=True)
    direct = [jaccard(texts[int(a[1:])], texts[int(b[1:])]) for a, b in pairs]
    return Scores(
        recall_high=float(merged[high].mean()),
        merged_low=float(merged[low].mean()),
        precision=float(np.mean(np.array(direct) >= 0.5)) if direct else 1.0,
        exact_removed=float(merged[exact].mean()),
        counts={"high": int(high.sum()), "low": int(low.sum()), "exact": int(exact.sum()), "dropped": out.height},
    )


def run_planted(base: list[str], plants: list[Plant], n_batches: int = 3) -> pl.DataFrame:
    texts = base + [p.text for p in plants]
    df = pl.DataFrame(
        {
            "id": [f"d{i}" for i in range(len(texts))],
            "text": texts,
            "source": "s",
            "source_rank": [0] * len(base) + [1] * len(plants),  # originals survive
        }
    )
    step = -(-df.height // n_batches)
    return dedup_minhash([df[i : i + step] for i in range(0, df.height, step)], MinhashDedupConfig())


def assert_good(s: Scores) -> None:
    assert s.counts["high"] >= 40 and s.counts["low"] >= 40 and s.counts["exact"] >= 10, s.counts
    assert s.recall_high >= 0.95, s
    assert s.merged_low <= 0.05, s
    assert s.precision >= 0.95, s
    assert s.exact_removed == 1.0, s


def test_planted_copies_in_generated_text():
    rng = random.Random(5)
    base = synthetic_corpus(600, rng)
    plants = plant_pairs(base, rng, n_pairs=300)
    out = run_planted(base, plants)
    assert_good(score(base, plants, out))
    # every exact copy is dropped as such, pointing at its original
    reasons = drops(out)
    for k, p in enumerate(plants):
        if p.exact:
            assert reasons[f"d{len(base) + k}"] == (REASON_EXACT, f"d{p.original}")


def real_documents(shared_data: Path, rng: random.Random) -> list[str]:
    """Real texts of four domains: WikiText paragraphs, inaugural-speech paragraphs, GSM8K
    problems with their solutions, 40-line Shakespeare chunks."""
    docs: list[str] = []
    for line in (shared_data / "encyclopedia" / "wikitext2-valid.txt").read_text(encoding="utf-8").splitlines():
        if len(line.split()) >= 40 and not line.strip().startswith("="):
            docs.append(line.strip())
    for path in sorted((shared_data / "speeches" / "inaugural").glob("*.txt")):
        for para in re.split(r"\n\s*\n", path.read_text(encoding="utf-8", errors="replace")):
            if len(para.split()) >= 40:
                docs.append(para.strip())
    gsm = (shared_data / "math" / "gsm8k-train.jsonl").read_text(encoding="utf-8").splitlines()
    for line in rng.sample(gsm, 1500):
        item = json.loads(line)
        docs.append(item["question"] + "\n" + item["answer"])
    lines = (shared_data / "literature" / "tinyshakespeare.txt").read_text(encoding="utf-8").splitlines()
    docs += ["\n".join(lines[i : i + 40]) for i in range(0, len(lines), 40)]
    return docs


@pytest.mark.shared_data
def test_planted_copies_in_real_documents(shared_data):
    rng = random.Random(7)
    base = real_documents(shared_data, rng)
    vocab = sorted({w for doc in base[:500] for w in doc.split()})
    plants = plant_pairs(base, rng, n_pairs=500, vocab=vocab)
    out = run_planted(base, plants)
    assert_good(score(base, plants, out))


@pytest.mark.shared_data
def test_normalization_matches_datatrove_on_every_udhr_language(shared_data):
    from datatrove.utils.text import simplify_text

    texts = [p.read_text(encoding="utf-8") for p in sorted((shared_data / "multilingual" / "udhr").glob("*.txt"))]
    assert len(texts) > 100
    ours = dedup._normalize(pl.Series(texts), MinhashDedupConfig().normalization, words=True).to_list()
    pairs = enumerate(zip(ours, texts, strict=True))
    mismatched = [i for i, (o, t) in pairs if o.split(" ") != simplify_text(t).split()]
    assert mismatched == []
