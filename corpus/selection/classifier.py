"""A quality classifier trained locally: reference documents against a random sample of the data (DCLM recipe).

Two backends, both trained and applied on CPU, both saved as plain files (no pickle).
``linear`` is the default: deterministic, pure numpy/polars features, and the faster of
the two per core to train and to score (``benchmarks/bench_selection.py --only speed``).

* ``fasttext``: fastText supervised (word uni+bigrams, hashed buckets), the classifier DCLM
  uses; saved as fastText's ``.bin``.
* ``linear``: hashed word uni+bigrams (``corpus.selection.hashing``, vectorized) + logistic
  regression (scikit-learn SGD); saved as an ``.npz`` of the coefficients and the feature settings.

``train_classifier`` holds out a seeded share of both classes and reports precision,
recall and ROC AUC on it, a histogram of held-out scores, and example texts per score band.
A score is the probability that a document looks like the positives.
"""

from __future__ import annotations

import io
import json
import os
import random
import re
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from corpus.selection import hashing

Backend = Literal["fasttext", "linear"]
BANDS = 10
EXAMPLE_CHARS = 200
_SPACE = re.compile(r"\s+")


class ClassifierError(ValueError):
    pass


@dataclass(frozen=True)
class ClassifierOptions:
    backend: Backend = "linear"
    heldout_fraction: float = 0.1
    seed: int = 0
    max_chars: int = 20_000  # characters of each document the classifier reads
    epochs: int = 5  # at least; small training sets get more passes (about 50k examples seen in all, at most 50)
    dim: int = 16
    buckets: int = 1 << 20
    lr: float = 0.2


@dataclass
class ClassifierReport:
    backend: str
    positives: int
    negatives: int
    heldout: int
    precision: float
    recall: float
    auc: float
    threshold: float
    histogram: dict[str, list[float]]  # held-out scores: bin edges, counts of positives / negatives
    examples: dict[str, list[str]]  # band "0.9-1.0" -> a few held-out texts
    train_seconds: float
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _clean(text: str, max_chars: int) -> str:
    return " ".join(text[:max_chars].lower().split())


class QualityModel:
    """A trained classifier; ``score(texts)`` gives P(positive) per text."""

    def __init__(self, backend: Backend, impl: Any, max_chars: int):
        self.backend = backend
        self.impl = impl
        self.max_chars = max_chars

    def score(self, texts: Sequence[str]) -> np.ndarray:
        if not len(texts):
            return np.zeros(0)
        if self.backend == "fasttext":
            labels, probs = self.impl.predict([_clean(t or "", self.max_chars) for t in texts], k=1)
            p = np.array([pr[0] for pr in probs], dtype=np.float64)
            pos = np.array([lab[0] == "__label__pos" for lab in labels])
            return np.clip(np.where(pos, p, 1.0 - p), 0.0, 1.0)
        coef, intercept = self.impl
        z = hashing.linear_scores(list(texts), coef, intercept, self.max_chars)
        return 1.0 / (1.0 + np.exp(-z))

    def save(self, path: str | Path) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        if self.backend == "fasttext":
            self.impl.save_model(str(tmp))
        else:
            coef, intercept = self.impl
            meta = json.dumps(
                {
                    "backend": "linear",
                    "features": hashing.FEATURES,
                    "fingerprint": hashing.fingerprint(),
                    "n_features": len(coef),
                    "max_chars": self.max_chars,
                }
            )
            buf = io.BytesIO()
            np.savez(buf, coef=coef, intercept=np.array([intercept]), meta=np.frombuffer(meta.encode(), dtype=np.uint8))
            tmp.write_bytes(buf.getvalue())
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: str | Path, backend: Backend | None = None, max_chars: int = 20_000) -> QualityModel:
        path = Path(path)
        if not path.is_file():
            raise ClassifierError(
                f"classifier model file {path} not found; materialize the quality_classifier asset first"
            )
        head = path.read_bytes()[:4]
        if head.startswith(b"PK"):  # an .npz
            with np.load(path, allow_pickle=False) as z:
                meta = json.loads(bytes(z["meta"]).decode())
                coef, intercept = z["coef"], float(z["intercept"][0])
            if meta.get("features") != hashing.FEATURES or meta.get("fingerprint") != hashing.fingerprint():
                raise ClassifierError(
                    f"classifier model file {path}: its features (hashing {meta.get('features', 'scikit-learn')!r}, "
                    f"fingerprint {meta.get('fingerprint')}) differ from this installation's "
                    f"({hashing.FEATURES!r}, {hashing.fingerprint()}); rematerialize the quality_classifier asset"
                )
            if len(coef) != int(meta["n_features"]):
                raise ClassifierError(
                    f"classifier model file {path}: {len(coef)} weights for {meta['n_features']} features"
                )
            return cls("linear", (coef, intercept), int(meta["max_chars"]))
        import fasttext

        fasttext.FastText.eprint = lambda *a, **k: None  # the loader's deprecation notice
        return cls("fasttext", fasttext.load_model(str(path)), max_chars)


def _fit(texts: list[str], labels: np.ndarray, opts: ClassifierOptions) -> QualityModel:
    epochs = max(opts.epochs, min(50, -(-50_000 // max(1, len(texts)))))
    if opts.backend == "fasttext":
        import fasttext

        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "train.txt"
            with path.open("w", encoding="utf-8") as f:
                for t, y in zip(texts, labels, strict=True):
                    f.write(("__label__pos " if y else "__label__neg ") + _clean(t, opts.max_chars) + "\n")
            lr = opts.lr
            for _attempt in range(4):  # a diverging run (NaN) is retried with half the learning rate
                try:
                    model = fasttext.train_supervised(
                        str(path),
                        epoch=epochs,
                        dim=opts.dim,
                        wordNgrams=2,
                        bucket=opts.buckets,
                        lr=lr,
                        thread=1,
                        seed=opts.seed,
                        verbose=0,
                        minCount=1,
                    )
                    break
                except RuntimeError as exc:
                    if "NaN" not in str(exc):
                        raise
                    lr /= 2
            else:
                raise ClassifierError(
                    f"fastText training diverged even at learning rate {lr * 2:g}; try backend 'linear'"
                )
        return QualityModel("fasttext", model, opts.max_chars)
    if opts.backend == "linear":
        from sklearn.linear_model import SGDClassifier

        x = hashing.matrix(texts, opts.buckets, opts.max_chars)
        clf = SGDClassifier(loss="log_loss", alpha=1e-6, max_iter=epochs * 4, tol=None, random_state=opts.seed)
        clf.fit(x, labels)
        return QualityModel("linear", (clf.coef_.ravel().astype(np.float32), float(clf.intercept_[0])), opts.max_chars)
    raise ClassifierError(f"unknown classifier backend {opts.backend!r}; use 'fasttext' or 'linear'")


def auc_score(scores: np.ndarray, labels: np.ndarray) -> float:
    """ROC AUC by the rank-sum formula (ties count half)."""
    from scipy.stats import rankdata

    labels = labels.astype(bool)
    n_pos, n_neg = int(labels.sum()), int((~labels).sum())
    if not n_pos or not n_neg:
        return float("nan")
    ranks = rankdata(scores)
    return float((ranks[labels].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def train_classifier(
    positives: Sequence[str],
    negatives: Sequence[str],
    options: ClassifierOptions | None = None,
    *,
    positives_field: str = "positives",
    negatives_field: str = "negatives",
) -> tuple[QualityModel, ClassifierReport]:
    """Train on positives (label 1) vs negatives (label 0); evaluate on a held-out share of each."""
    opts = options or ClassifierOptions()
    pos = [t for t in positives if t and t.strip()]
    neg = [t for t in negatives if t and t.strip()]
    for what, docs, name in ((positives_field, pos, "positive"), (negatives_field, neg, "negative")):
        if len(docs) < 2:
            raise ClassifierError(
                f"{what}: {len(docs)} non-empty {name} documents; a classifier needs both classes "
                f"(at least 2 of each, better hundreds): check the {what} sources"
            )
    rng = random.Random(opts.seed)
    notes: list[str] = []

    def split(docs: list[str]) -> tuple[list[str], list[str]]:
        idx = list(range(len(docs)))
        rng.shuffle(idx)
        k = max(1, round(opts.heldout_fraction * len(docs)))
        return [docs[i] for i in idx[k:]], [docs[i] for i in idx[:k]]

    pos_tr, pos_ho = split(pos)
    neg_tr, neg_ho = split(neg)
    texts = pos_tr + neg_tr  # each backend reads the first max_chars characters, lowercased
    labels = np.array([1] * len(pos_tr) + [0] * len(neg_tr))
    order = np.random.default_rng(opts.seed).permutation(len(texts))
    t0 = time.perf_counter()
    model = _fit([texts[i] for i in order], labels[order], opts)
    seconds = time.perf_counter() - t0
    ho_texts = pos_ho + neg_ho
    ho_labels = np.array([1] * len(pos_ho) + [0] * len(neg_ho))
    scores = model.score(ho_texts)
    pred = scores >= 0.5
    tp = int((pred & (ho_labels == 1)).sum())
    precision = tp / int(pred.sum()) if pred.sum() else 0.0
    recall = tp / int(ho_labels.sum())
    edges = np.linspace(0.0, 1.0, BANDS + 1)
    hist_pos, _ = np.histogram(scores[ho_labels == 1], bins=edges)
    hist_neg, _ = np.histogram(scores[ho_labels == 0], bins=edges)
    band = np.minimum((scores * BANDS).astype(int), BANDS - 1)
    examples: dict[str, list[str]] = {}
    for b in range(BANDS):
        members = np.flatnonzero(band == b)[:2]
        if len(members):
            key = f"{edges[b]:.1f}-{edges[b + 1]:.1f}"
            examples[key] = [_SPACE.sub(" ", ho_texts[i][:EXAMPLE_CHARS]) for i in members]
    if len(pos) < 50 or len(neg) < 50:
        notes.append(f"only {len(pos)} positives / {len(neg)} negatives: held-out figures are rough")
    report = ClassifierReport(
        backend=opts.backend,
        positives=len(pos),
        negatives=len(neg),
        heldout=len(ho_texts),
        precision=float(precision),
        recall=float(recall),
        auc=auc_score(scores, ho_labels),
        threshold=0.5,
        histogram={"edges": edges.round(2).tolist(), "positives": hist_pos.tolist(), "negatives": hist_neg.tolist()},
        examples=examples,
        train_seconds=seconds,
        notes=notes,
    )
    return model, report


def score_pool(
    pool: Sequence[str],
    positives: Sequence[str],
    negative_idx: Sequence[int],
    options: ClassifierOptions | None = None,
    *,
    positives_field: str = "positives",
    negatives_field: str = "negatives",
    folds: int = 2,
) -> tuple[QualityModel, ClassifierReport, np.ndarray]:
    """Train on positives vs ``pool[negative_idx]`` and score the whole pool, the negatives out of fold.

    A classifier memorizes its training negatives, so scoring them with it would push every
    sampled document down. Each negative is scored by a model trained without its fold
    (cross-fitting); the other documents by the model trained on all negatives, which is
    also the one returned (and saved) with its held-out report.
    """
    opts = options or ClassifierOptions()
    negative_idx = np.asarray(list(negative_idx), dtype=np.int64)
    negatives = [pool[i] for i in negative_idx]
    model, report = train_classifier(
        positives, negatives, opts, positives_field=positives_field, negatives_field=negatives_field
    )
    scores = model.score(pool)
    if len(negative_idx) >= 2 * folds:
        fold_of = np.random.default_rng([opts.seed, 3]).permutation(len(negative_idx)) % folds
        for f in range(folds):
            rest = [negatives[i] for i in np.flatnonzero(fold_of != f)]
            fold_model, _ = train_classifier(
                positives, rest, opts, positives_field=positives_field, negatives_field=negatives_field
            )
            mine = negative_idx[fold_of == f]
            scores[mine] = fold_model.score([pool[i] for i in mine])
        report.notes.append(f"sampled negatives scored out of fold ({folds} folds)")
    return model, report, scores
