"""Classifier speed per core and the choice of the default backend, for bench_selection.py.

Speed: each repeat trains every backend on the same 100k documents and scores the same
~24 MB with it, beside two references measured in the same repeat: the previous linear
backend (scikit-learn ``HashingVectorizer``, same word uni+bigrams, same SGD) and a plain
Python pass over the same texts (``str.lower().split()``, a yardstick of how fast this
core is at the moment). Wall-clock and process CPU seconds are both recorded; the process
is pinned to one core with single-threaded numerical libraries, so its CPU seconds are
what one unshared core would take. Medians with min/max over the repeats.

Backend choice: held-out AUC on the noisy suite (reference passages against a random
sample of the noisy domain, as the operator trains) for each backend over paired seeds.
"""

from __future__ import annotations

import random
import statistics
import time

from _common import perturb
from selection_suites import passages

BACKENDS = ("linear", "fasttext")


def speed_texts(docs, n_docs: int) -> tuple[list[str], list[str], list[str]]:
    """Positives, negatives (n_docs in all) and ~24 MB of texts to score (fixed seed)."""
    rng = random.Random(7)
    pos_pool = [p for d in docs if d.domain in ("encyclopedia", "speeches") for p in passages(d.text, 800)]
    neg_pool = [d.text[:3000] for d in docs if d.domain in ("web", "math", "multilingual")]
    neg_pool += [p for d in docs if d.domain == "literature" for p in passages(d.text.replace("\n", "\n\n"), 800)]
    pos = [perturb(rng.choice(pos_pool), rng) for _ in range(n_docs // 2)]
    neg = [perturb(rng.choice(neg_pool), rng) for _ in range(n_docs // 2)]
    return pos, neg, (pos[:5000] + neg[:5000]) * 2


def _timed(fn):
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return time.perf_counter() - wall, time.process_time() - cpu, out


def _spread(values: list[float], digits: int = 2) -> dict:
    return {
        "median": round(statistics.median(values), digits),
        "min": round(min(values), digits),
        "max": round(max(values), digits),
        "runs": [round(v, digits) for v in values],
    }


class SklearnHashing:
    """The previous linear backend (scikit-learn hashing), kept here as the speed reference."""

    def __init__(self, n_features: int = 1 << 20, max_chars: int = 20_000):
        from sklearn.feature_extraction.text import HashingVectorizer

        self.max_chars = max_chars
        self.vec = HashingVectorizer(
            n_features=n_features, ngram_range=(1, 2), alternate_sign=False, norm="l2", lowercase=False
        )

    def _x(self, texts):
        return self.vec.transform([" ".join(t[: self.max_chars].lower().split()) for t in texts])

    def fit(self, pos, neg, seed: int = 0, epochs: int = 5) -> SklearnHashing:
        import numpy as np
        from sklearn.linear_model import SGDClassifier

        labels = np.array([1] * len(pos) + [0] * len(neg))
        order = np.random.default_rng(seed).permutation(len(labels))
        texts = pos + neg
        clf = SGDClassifier(loss="log_loss", alpha=1e-6, max_iter=epochs * 4, tol=None, random_state=seed)
        clf.fit(self._x([texts[i] for i in order]), labels[order])
        self.coef, self.intercept = clf.coef_.ravel().astype(np.float32), float(clf.intercept_[0])
        return self

    def score(self, texts):
        import numpy as np

        return 1.0 / (1.0 + np.exp(-(self._x(texts) @ self.coef + self.intercept)))


def classifier_speed(docs, n_docs: int, repeats: int = 3) -> dict:
    """Train on n_docs and score ~24 MB per backend and reference, ``repeats`` times, on this (pinned) core."""
    from corpus.selection.classifier import ClassifierOptions, train_classifier

    pos, neg, apply_texts = speed_texts(docs, n_docs)
    mb = sum(len(t.encode()) for t in apply_texts) / 1e6
    train_mb = sum(len(t.encode()) for t in pos + neg) / 1e6
    runs: dict[str, dict[str, list[float]]] = {}

    def add(name: str, key: str, value: float) -> None:
        runs.setdefault(name, {}).setdefault(key, []).append(value)

    aucs: dict[str, float] = {}
    for r in range(repeats):
        wall, cpu, _ = _timed(lambda: [len(t.lower().split()) for t in apply_texts])
        add("python_lower_split", "apply_mb_per_s", mb / wall)
        add("python_lower_split", "apply_mb_per_cpu_s", mb / cpu)
        models = {}
        for name in (*BACKENDS, "sklearn_hashing"):
            if name == "sklearn_hashing":
                wall, cpu, model = _timed(lambda: SklearnHashing().fit(pos, neg))
            else:
                wall, cpu, (model, report) = _timed(
                    lambda name=name: train_classifier(pos, neg, ClassifierOptions(backend=name))
                )
                aucs[name] = round(report.auc, 4)
            models[name] = model
            add(name, "train_s", wall)
            add(name, "train_cpu_s", cpu)
            wall, cpu, _ = _timed(lambda m=model: m.score(apply_texts))
            add(name, "apply_mb_per_s", mb / wall)
            add(name, "apply_mb_per_cpu_s", mb / cpu)
        print(
            f"speed repeat {r + 1}/{repeats}: "
            + ", ".join(f"{k} {v['apply_mb_per_cpu_s'][-1]:.1f} MB/cpu-s" for k, v in runs.items()),
            flush=True,
        )
    out: dict = {"docs": n_docs, "train_mb": round(train_mb, 2), "apply_mb": round(mb, 2), "repeats": repeats}
    for name, series in runs.items():
        out[name] = {k: _spread(v) for k, v in series.items()}
        if name in aucs:
            out[name]["auc_heldout"] = aucs[name]
    ref = runs["sklearn_hashing"]
    for name in BACKENDS:
        b = runs[name]
        out[name]["vs_sklearn_hashing"] = {
            "apply_cpu_speedup": _spread(
                [x / y for x, y in zip(b["apply_mb_per_cpu_s"], ref["apply_mb_per_cpu_s"], strict=True)]
            ),
            "train_cpu_speedup": _spread([y / x for x, y in zip(b["train_cpu_s"], ref["train_cpu_s"], strict=True)]),
        }
    return out


def backend_choice(noisy: dict, seeds) -> dict:
    """Held-out AUC on the noisy suite per backend over paired seeds (what the operator trains on)."""
    import numpy as np

    from corpus.selection.classifier import ClassifierOptions, score_pool

    domain, kinds = noisy["domain"], noisy["kinds"]
    out: dict = {"seeds": list(seeds), "top_k": 500}
    per: dict[str, dict[str, list[float]]] = {b: {"auc": [], "clean_in_top": []} for b in BACKENDS}
    for seed in seeds:
        k = min(len(domain), len(noisy["reference"]) * 2)
        negative_idx = sorted(random.Random(seed).sample(range(len(domain)), k))
        for backend in BACKENDS:
            _m, report, scores = score_pool(
                domain, noisy["reference"], negative_idx, ClassifierOptions(seed=seed, backend=backend)
            )
            top = np.argsort(-scores, kind="stable")[: out["top_k"]]
            per[backend]["auc"].append(round(report.auc, 4))
            per[backend]["clean_in_top"].append(sum(kinds[i] == "clean" for i in top) / len(top))
        print(f"backend choice seed {seed}: " + ", ".join(f"{b} AUC {per[b]['auc'][-1]:.3f}" for b in BACKENDS))
    out["per_backend"] = per
    out.update(compare_backends(per))
    return out


def compare_backends(per: dict) -> dict:
    """Paired linear - fastText intervals of held-out AUC and of the clean share among the top scores."""
    from corpus.stats import paired_interval

    out = {}
    for metric in ("auc", "clean_in_top"):
        diff = paired_interval(per["linear"][metric], per["fasttext"][metric])
        out[f"linear_minus_fasttext_{metric}"] = diff.as_dict() | {
            "verdict": "no difference shown"
            if not diff.excludes_zero
            else ("linear higher" if diff.mean > 0 else "fastText higher")
        }
    return out
