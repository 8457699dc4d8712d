"""Tokenizer: byte-level round trip, determinism, separators, the validation split, token shards."""

from __future__ import annotations

import random

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from corpus.tokenize import (
    EOT,
    TokenizerError,
    assign_split,
    eot_id,
    load_tokenizer,
    sample_texts,
    token_arrays_from_table,
    token_shard_table,
    tokenize_batch,
    tokenizer_fingerprint,
    train_bpe,
    validation_size,
)

TEXTS = [
    "The quick brown fox jumps over the lazy dog. " * 3,
    "def add(a, b):\n    return a + b\n\nprint(add(2, 3))\n",
    "Natalia sold 48/2 = 24 clips in May. #### 72",
    "Tous les êtres humains naissent libres et égaux en dignité et en droits.",
    "Alle Menschen sind frei und gleich an Würde und Rechten geboren.",
    "人人生而自由，在尊严和权利上一律平等。",
    "Все люди рождаются свободными и равными в своем достоинстве и правах.",
    "emoji 🙂 and tabs\tand\r\nwindows newlines",
] * 20


@pytest.fixture(scope="module")
def tok():
    return train_bpe(TEXTS, 400)


def test_round_trip_is_exact_for_any_text(tok):
    unseen = ["Ελληνικά γράμματα", "    leading spaces and trailing   ", "", "\x00control\x7f", "مرحبا بالعالم"]
    arrays = tokenize_batch(tok, TEXTS[:8] + unseen)
    for text, arr in zip(TEXTS[:8] + unseen, arrays, strict=True):
        assert arr[-1] == eot_id(tok)
        assert tok.decode(arr[:-1].tolist(), skip_special_tokens=False) == text


def test_training_is_deterministic(tok):
    again = train_bpe(TEXTS, 400)
    assert again.to_str() == tok.to_str()
    assert tokenizer_fingerprint(again) == tokenizer_fingerprint(tok)
    other = train_bpe(TEXTS[:4], 400)
    assert tokenizer_fingerprint(other) != tokenizer_fingerprint(tok)


def test_vocabulary_has_bytes_merges_and_separator(tok):
    assert tok.get_vocab_size() == 400
    assert tok.token_to_id(EOT) == 0
    assert tokenize_batch(tok, ["x"])[0].dtype == np.uint16
    # merges compress: fewer tokens than UTF-8 bytes on the training text
    arr = tokenize_batch(tok, [TEXTS[0]], append_eot=False)[0]
    assert len(arr) < len(TEXTS[0].encode()) / 2


def test_separator_inside_a_document_is_text_not_a_boundary(tok):
    arr = tokenize_batch(tok, [f"before{EOT}after"])[0]
    assert int((arr == eot_id(tok)).sum()) == 1 and arr[-1] == eot_id(tok)
    assert tok.decode(arr[:-1].tolist(), skip_special_tokens=False) == f"before{EOT}after"
    assert tok.encode_special_tokens is False  # tokenize_batch leaves the tokenizer as it found it


def test_load_from_path_and_json(tok, tmp_path):
    path = tmp_path / "tokenizer.json"
    tok.save(str(path))
    for source in (path, str(path), tok.to_str(), tok.to_str().encode()):
        loaded = load_tokenizer(source)
        assert tokenize_batch(loaded, TEXTS[:3])[1].tolist() == tokenize_batch(tok, TEXTS[:3])[1].tolist()
    with pytest.raises(TokenizerError, match="not found"):
        load_tokenizer(tmp_path / "missing.json")
    with pytest.raises(TokenizerError, match="could not be parsed"):
        load_tokenizer("{not json")


def test_tokenizer_without_separator_is_rejected(tmp_path):
    from tokenizers import Tokenizer, models

    bare = Tokenizer(models.BPE())
    with pytest.raises(TokenizerError, match=r"no <\|endoftext\|> token"):
        load_tokenizer(bare.to_str())


def test_bad_inputs_name_the_fix():
    with pytest.raises(TokenizerError, match="too small"):
        train_bpe(TEXTS, 100)
    with pytest.raises(TokenizerError, match="no non-empty texts"):
        train_bpe(["", ""], 300)


def test_sample_texts_is_seeded_and_uniform_sized():
    texts = [f"doc {i}" for i in range(1000)]
    a, b = sample_texts(texts, 50, seed=1), sample_texts(iter(texts), 50, seed=1)
    assert a == b and len(a) == 50 and len(set(a)) == 50
    assert sample_texts(texts, 50, seed=2) != a
    assert sample_texts(texts[:10], 50) == texts[:10]
    # max_texts subsamples reproducibly
    assert train_bpe(TEXTS, 300, max_texts=40, seed=3).to_str() == train_bpe(TEXTS, 300, max_texts=40, seed=3).to_str()


# --- validation split -----------------------------------------------------------------


def ids(n: int, prefix: str = "doc") -> list[str]:
    return [f"{prefix}-{i:05d}" for i in range(n)]


def test_split_sizes_follow_fraction_and_clamps():
    assert validation_size(1000, 0.05, 4, 400) == 50
    assert validation_size(20, 0.05, 4, 400) == 4  # min_docs
    assert validation_size(100_000, 0.05, 4, 400) == 400  # max_docs
    assert validation_size(3, 0.05, 4, 400) == 2  # at least one document trains
    assert validation_size(1, 0.05, 4, 400) == 0
    splits = assign_split(ids(1000), 0.05, 4, 400)
    assert splits.count("val") == 50 and splits.count("train") == 950
    with pytest.raises(TokenizerError, match="larger than"):
        validation_size(10, 0.1, 5, 2)


def test_split_is_deterministic_and_order_independent():
    domain = ids(500)
    a = dict(zip(domain, assign_split(domain, 0.1, 4, 400), strict=True))
    shuffled = domain[:]
    random.Random(0).shuffle(shuffled)
    b = dict(zip(shuffled, assign_split(shuffled, 0.1, 4, 400), strict=True))
    assert a == b


def test_split_of_a_domain_is_stable_when_it_grows_a_little():
    domain = ids(1000)
    before = {d for d, s in zip(domain, assign_split(domain, 0.05, 4, 400), strict=True) if s == "val"}
    grown = domain + ids(20, prefix="new")
    after = {d for d, s in zip(grown, assign_split(grown, 0.05, 4, 400), strict=True) if s == "val"}
    # 50 -> 51 val documents: the old val set loses at most what the new documents displace
    assert len(after) == 51
    assert len(before - after) <= 20
    assert len(before & after) >= 30


def test_split_rejects_duplicate_ids():
    with pytest.raises(TokenizerError, match="duplicate"):
        assign_split(["a", "a", "b"], 0.5, 1, 10)


# --- token shards -------------------------------------------------------------------------


def test_token_shard_table_schema_and_round_trip(tok, tmp_path):
    texts = TEXTS[:6]
    doc_ids = ids(6)
    arrays = tokenize_batch(tok, texts)
    table = token_shard_table(doc_ids, "web", assign_split(doc_ids, 0.3, 1, 10), arrays)
    assert table.schema.names == ["id", "source", "split", "n_tokens", "tokens"]
    assert table.schema.field("tokens").type == pa.list_(pa.uint16())
    assert table.schema.field("n_tokens").type == pa.int32()
    assert table.column("n_tokens").to_pylist() == [len(a) for a in arrays]
    pq.write_table(table, tmp_path / "part-00000.parquet")
    back = pq.read_table(tmp_path / "part-00000.parquet")
    assert back.schema == table.schema
    for a, b in zip(arrays, token_arrays_from_table(back), strict=True):
        assert np.array_equal(a, b)
    # a slice keeps the right rows (offsets into the shared child buffer)
    assert np.array_equal(token_arrays_from_table(back.slice(2, 2))[0], arrays[2])


def test_token_shard_table_wide_vocab_uses_uint32():
    big = [np.array([70_000, 5], dtype=np.uint32)]
    table = token_shard_table(["a"], "x", ["train"], big, vocab_size=80_000)
    assert table.schema.field("tokens").type == pa.list_(pa.uint32())
    assert token_arrays_from_table(table)[0].tolist() == [70_000, 5]
    with pytest.raises(TokenizerError, match="does not fit"):
        token_shard_table(["a"], "x", ["train"], big, vocab_size=1000)


def test_token_shard_table_errors_name_the_problem():
    arr = [np.array([1, 2], dtype=np.uint16)]
    with pytest.raises(TokenizerError, match="differ in length"):
        token_shard_table(["a", "b"], "x", ["train"], arr)
    with pytest.raises(TokenizerError, match="'train' or 'val'"):
        token_shard_table(["a"], "x", ["test"], arr)
