"""The linear classifier's vectorized hashed features: same vectors for training and scoring, stable model files."""

from __future__ import annotations

import io
import json
import random

import numpy as np
import pytest

from corpus.selection import hashing
from corpus.selection.classifier import ClassifierError, ClassifierOptions, QualityModel, train_classifier

N = 1 << 16


def test_matrix_holds_normalized_unigram_and_bigram_counts():
    x = hashing.matrix(["The cat saw the cat.", "a", None, "Dog dog DOG"], N, 20_000)
    assert x.shape == (4, N)
    # the, cat, saw (unigrams: the x2, cat x2, saw x1) + the cat (x2), cat saw, saw the: 6 buckets
    row = x[0].toarray().ravel()
    assert x[0].nnz == 6
    assert sorted(np.round(row[row > 0] * np.sqrt(4 + 4 + 1 + 4 + 1 + 1), 6)) == [1, 1, 1, 2, 2, 2]
    assert x[1].nnz == 0 and x[2].nnz == 0  # one-letter words are not tokens; a null text has no features
    dog = x[3].toarray().ravel()
    assert x[3].nnz == 2 and np.isclose(np.linalg.norm(dog), 1.0)  # "dog" x3 and "dog dog" x2, case folded


def test_features_do_not_depend_on_the_other_documents_or_chunking(monkeypatch):
    rng = random.Random(0)
    words = ["river", "bridge", "über", "données", "数据", "town", "railway", "Fish"]
    texts = [" ".join(rng.choice(words) for _ in range(rng.randint(0, 40))) for _ in range(50)]
    alone = [hashing.matrix([t], N, 20_000).toarray() for t in texts[:5]]
    monkeypatch.setattr(hashing, "CHUNK_DOCS", 7)
    together = hashing.matrix(texts, N, 20_000).toarray()
    for i, a in enumerate(alone):
        assert np.array_equal(a[0], together[i])


def test_scores_without_the_matrix_equal_the_matrix_product():
    rng = np.random.default_rng(1)
    coef = rng.normal(size=N).astype(np.float32)
    texts = ["Alpha beta gamma. " * k for k in range(30)] + ["", "x y z", "Ünïcode wörds here"]
    direct = hashing.linear_scores(texts, coef, 0.25, 20_000)
    via = hashing.matrix(texts, N, 20_000) @ coef + 0.25
    assert np.allclose(direct, via)
    assert direct[0] == pytest.approx(0.25)  # an empty document scores the intercept


def test_max_chars_limits_what_is_read():
    a = hashing.matrix(["short text here" + " tail" * 100], N, 15).toarray()
    b = hashing.matrix(["short text here"], N, 20_000).toarray()
    assert np.array_equal(a, b)


def _model(tmp_path):
    rng = random.Random(3)
    pos = [
        " ".join(rng.choice(["river", "museum", "history", "bridge", "novel"]) for _ in range(30)) for _ in range(40)
    ]
    neg = [" ".join(rng.choice(["buy", "click", "casino", "cheap", "login"]) for _ in range(30)) for _ in range(40)]
    model, report = train_classifier(pos, neg, ClassifierOptions(backend="linear", buckets=N))
    assert report.auc > 0.95
    path = tmp_path / "m.bin"
    model.save(path)
    return model, path


def _rewrite_meta(path, **changes):
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(bytes(arrays["meta"]).decode())
    meta.update(changes)
    meta = {k: v for k, v in meta.items() if v is not None}
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    path.write_bytes(buf.getvalue())


def test_saved_model_reloads_and_scores_the_same(tmp_path):
    model, path = _model(tmp_path)
    again = QualityModel.load(path)
    texts = ["river museum history", "cheap casino click", ""]
    assert np.array_equal(again.score(texts), model.score(texts))


def test_model_file_from_another_feature_hashing_is_refused(tmp_path):
    _, path = _model(tmp_path)
    _rewrite_meta(path, features=None, fingerprint=None)  # as written with scikit-learn's hashing
    with pytest.raises(ClassifierError, match="rematerialize the quality_classifier asset"):
        QualityModel.load(path)
    _, path = _model(tmp_path)
    _rewrite_meta(path, fingerprint="0123456789abcdef")  # another polars hashed words differently
    with pytest.raises(ClassifierError, match="fingerprint 0123456789abcdef"):
        QualityModel.load(path)


def test_same_words_and_pairs_as_scikit_learn_hashing_on_plain_text():
    from sklearn.feature_extraction.text import HashingVectorizer

    rng = random.Random(5)
    vocab = ["river", "bridge", "the", "of", "a", "I", "town's", "x-ray", "42", "naïve", "Rail", "rail"]
    texts = [" ".join(rng.choice(vocab) for _ in range(rng.randint(0, 60))) + "." for _ in range(40)]
    ref = HashingVectorizer(n_features=1 << 24, ngram_range=(1, 2), alternate_sign=False, norm=None)
    theirs = ref.transform(texts)
    ours = hashing.matrix(texts, 1 << 24, 20_000)
    assert np.array_equal(np.diff(ours.indptr), np.diff(theirs.indptr))  # distinct features per document
    for i in range(len(texts)):  # the same multiset of counts, so the same L2 norm
        assert sorted(ours[i].data * np.linalg.norm(theirs[i].data)) == pytest.approx(sorted(theirs[i].data))
