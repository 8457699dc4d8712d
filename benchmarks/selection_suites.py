"""The selection benchmark's suites, built from real text (fixed seeds; see bench_selection.py)."""

from __future__ import annotations

import random
import re

from _common import perturb


def passages(text: str, size: int = 1200) -> list[str]:
    out, cur = [], ""
    for para in re.split(r"\n\s*\n", text):
        para = para.strip()
        if not para:
            continue
        cur = f"{cur}\n\n{para}" if cur else para
        if len(cur) >= size:
            out.append(cur)
            cur = ""
    if len(cur) >= size // 3:
        out.append(cur)
    return out


def degrade(text: str, rng: random.Random) -> str:
    words = text.split()
    for i in range(0, len(words), 6):
        window = words[i : i + 6]
        rng.shuffle(window)
        words[i : i + 6] = window
    chars = list(" ".join(words))
    for i in rng.sample(range(len(chars)), len(chars) // 20):
        chars[i] = rng.choice("abcdefghijklmnopqrstuvwxyz0123456789#%&*")
    return "".join(chars)


def boilerplate(text: str, lines: list[str], rng: random.Random) -> str:
    sentences = re.split(r"(?<=[.!?])\s+", text)
    keep = sentences[: rng.randint(1, 2)]
    body = [rng.choice(lines) for _ in range(rng.randint(12, 30))]
    at = rng.randint(0, len(body))
    return "\n".join(body[:at] + keep + body[at:])


def noisy_suite(docs, rng: random.Random) -> dict:
    prose = [p for d in docs if d.domain in ("encyclopedia", "speeches") for p in passages(d.text)]
    rng.shuffle(prose)
    n = len(prose)
    reference, targets, clean = prose[: n // 4], prose[n // 4 : n // 4 + n // 10], prose[n // 4 + n // 10 :]
    web = [d.text for d in docs if d.domain == "web"]
    web_lines = sorted({ln.strip() for t in web for ln in t.splitlines() if 3 <= len(ln.strip()) <= 60})
    half = set(rng.sample(range(len(clean)), len(clean) // 2))
    noisy = [degrade(t, rng) if i in half else boilerplate(t, web_lines, rng) for i, t in enumerate(clean)]
    domain = clean + noisy + web
    kinds = ["clean"] * len(clean) + ["noisy"] * len(noisy) + ["web"] * len(web)
    return {"reference": reference, "targets": targets, "domain": domain, "kinds": kinds}


DUP_TAILS = ("zipf", "geometric")
ZIPF_TOP_COPIES = 480  # copies of the most copied passage; the r-th most copied gets round(480 / r)


def duplicate_suite(docs, rng: random.Random, n_base: int = 2000, tail: str = "zipf") -> dict:
    """Passages of three sources, 10% of them "popular" and copied with light perturbations.

    ``tail`` is the law of the copy counts of the popular passages: ``zipf`` (the r-th most
    copied has ``round(ZIPF_TOP_COPIES / r)`` copies: a few passages copied hundreds of times,
    most a few times, the heavy tail of web duplicates) or ``geometric`` (1 + Geometric(1/15)
    copies each, at most 60: the earlier, light-tailed design). Held-out targets per source
    are drawn before the base passages and never copied.
    """
    if tail not in DUP_TAILS:
        raise ValueError(f"unknown duplicate tail {tail!r}; use one of {', '.join(DUP_TAILS)}")
    pools = {
        "literature": [
            p for d in docs if d.domain == "literature" for p in passages(d.text.replace("\n", "\n\n"), 700)
        ],
        "encyclopedia": [p for d in docs if d.domain == "encyclopedia" for p in passages(d.text, 700)],
        "math": [d.text for d in docs if d.domain == "math"],
    }
    base, targets = [], {}
    for name, pool in pools.items():
        pool = list(pool)
        rng.shuffle(pool)
        targets[name] = pool[:60]
        base += [(name, p) for p in pool[60 : 60 + n_base // 3]]
    rng.shuffle(base)
    domain, group = [p for _s, p in base], list(range(len(base)))
    source = [s for s, _p in base]
    for rank, i in enumerate(rng.sample(range(len(base)), len(base) // 10), start=1):
        if tail == "zipf":
            copies = max(1, round(ZIPF_TOP_COPIES / rank))
        else:
            copies = 1
            while rng.random() > 1 / 15 and copies < 60:
                copies += 1
        domain += [perturb(base[i][1], rng) for _ in range(copies)]
        group += [i] * copies
        source += [base[i][0]] * copies
    order = list(range(len(domain)))
    rng.shuffle(order)
    return {
        "domain": [domain[k] for k in order],
        "group": [group[k] for k in order],  # the base passage each document copies (itself if original)
        "source": [source[k] for k in order],  # the source (and target) each document belongs to
        "targets": targets,
        "base_docs": len(base),
        "tail": tail,
    }


def weighted_sample(weights, lengths, budget: int, seed: int = 0) -> list[int]:
    """Documents drawn in proportion to ``weights`` without replacement until ``budget`` tokens.

    Efraimidis-Spirakis keys (``u ** (1 / w)``, largest first), so no document repeats before
    every document has been drawn; zero weights come last.
    """
    import numpy as np

    u = np.random.default_rng([seed, 8]).random(len(weights))
    with np.errstate(divide="ignore"):
        keys = np.log(u) / np.asarray(weights, dtype=np.float64)
    return take_tokens(np.argsort(-keys, kind="stable"), lengths, budget)


def domain_weighted_sample(weights, lengths, sources, budget: int, seed: int = 0) -> list[int]:
    """Documents drawn by weight without replacement *inside each source*, each source keeping its token share.

    A source's budget is ``budget`` times its share of the pool's tokens (what a uniform draw
    gives it in expectation, and what a mixture fixes per domain); inside the source the
    draw is :func:`weighted_sample`'s (Efraimidis-Spirakis keys).
    """
    import numpy as np

    weights = np.asarray(weights, dtype=np.float64)
    lengths = np.asarray(lengths, dtype=np.int64)
    sources = np.asarray(sources)
    if not (len(weights) == len(lengths) == len(sources)):
        raise ValueError(f"{len(weights)} weights, {len(lengths)} lengths, {len(sources)} sources; give one each")
    u = np.random.default_rng([seed, 8]).random(len(weights))
    with np.errstate(divide="ignore"):
        keys = np.log(u) / weights
    total = int(lengths.sum())
    out: list[int] = []
    for name in sorted(set(sources.tolist())):
        idx = np.flatnonzero(sources == name)
        share_budget = round(budget * int(lengths[idx].sum()) / total)
        out += take_tokens(idx[np.argsort(-keys[idx], kind="stable")], lengths, share_budget)
    return out


def source_shares(picked, sources, lengths) -> dict[str, float]:
    """Token share of each source among the picked documents."""
    tokens: dict[str, int] = {}
    for i in picked:
        tokens[sources[i]] = tokens.get(sources[i], 0) + int(lengths[i])
    total = max(sum(tokens.values()), 1)
    return {k: round(v / total, 4) for k, v in sorted(tokens.items())}


def target_overlap(domain, targets: dict, n: int = 13) -> dict:
    """Per target set: targets equal to a pool document, targets sharing an ``n``-word span with the pool,
    and the share of the targets' ``n``-grams found in the pool (normalized words, corpus.selection.ngrams)."""
    import numpy as np

    from corpus.selection import ngrams

    w = ngrams.words(domain)
    starts, _owner = ngrams.ngram_starts(w, n)
    pool_keys = np.unique(ngrams.ngram_keys(w, n, starts))
    pool = set(domain)
    out = {}
    for name, texts in targets.items():
        wt = ngrams.words(texts)
        ts, owner = ngrams.ngram_starts(wt, n)
        hit = np.isin(ngrams.ngram_keys(wt, n, ts), pool_keys)
        out[name] = {
            "targets": len(texts),
            "exact_in_pool": sum(t in pool for t in texts),
            "sharing_span": len(np.unique(owner[hit])),
            "span_share": round(float(hit.mean()), 4) if len(hit) else 0.0,
        }
    return out


def stream_redundancy(picked, group, lengths, budget: int) -> dict:
    """Token shares of a training stream (document ids in order, cut at ``budget`` tokens) that repeat a
    document already in it (``exact``) or copy a base passage already in it (``near``)."""
    seen_doc, seen_group = set(), set()
    exact = near = total = 0
    for i in picked:
        n = int(lengths[i])
        total += n
        if i in seen_doc:
            exact += n
        elif group[i] in seen_group:
            near += n
        seen_doc.add(i)
        seen_group.add(group[i])
        if total >= budget:
            break
    total = max(total, 1)
    return {"exact": round(exact / total, 4), "near": round(near / total, 4), "base_passages": len(seen_group)}


def take_tokens(order, lengths, budget) -> list[int]:
    out, total = [], 0
    for i in order:
        if total >= budget:
            break
        out.append(int(i))
        total += int(lengths[i])
    return out
