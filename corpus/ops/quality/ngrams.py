"""Repeated and most frequent word n-grams of every document of a batch at once, by sorting packed
n-gram hashes (the Gopher repetition rules)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from corpus.ops import _words


@dataclass(frozen=True)
class _Level:
    """The candidate n-grams of one size, sorted by (key, position): equal n-grams form runs."""

    pos: np.ndarray  # start position (index into the flat words) of each n-gram
    first: np.ndarray  # True for the earliest occurrence in its run
    repeated: np.ndarray  # True if its run has two or more members


class _NGrams:
    """n-gram statistics of each document's word sequence, computed for all documents at once.

    Every word gets a 64-bit hash (salted with its document, so equal n-grams of different
    documents never meet) and an n-gram's key folds the hashes of its words. Sorting the keys,
    packed with the position in their low bits so that the sort is one ``np.sort`` of uint64,
    groups equal n-grams earliest first. An n-gram can only occur twice if the (n-1)-gram at
    its start does, so each larger n looks at the repeated positions only.
    """

    _MUL = np.uint64(0x100000001B3)

    def __init__(self, words: _words.Words) -> None:
        self.offsets = words.offsets
        self.n_docs = len(words.offsets) - 1
        self.doc_of = words.doc_index()
        n_words = len(words)
        salt = (self.doc_of.astype(np.uint64) + np.uint64(1)) * np.uint64(0x9E3779B97F4A7C15)
        self.hashes = words.map(lambda w: w.hash(seed=0)).astype(np.uint64) ^ salt
        lengths = words.map(lambda w: w.str.len_chars()).astype(np.int64)
        self.cum_len = np.zeros(n_words + 1, dtype=np.int64)
        np.cumsum(lengths, out=self.cum_len[1:])
        self.pos_bits = max(1, int(n_words).bit_length())
        self._levels: dict[int, _Level] = {}

    def _starts(self, size: int) -> np.ndarray:
        """Every position where an n-gram of ``size`` words fits inside its document."""
        valid = np.ones(len(self.doc_of), dtype=bool)
        if size > 1 and len(valid):
            ends = self.offsets[1:]
            cut = (ends[:, None] - np.arange(1, size)[None, :]).ravel()
            owner = np.repeat(self.offsets[:-1], size - 1)
            valid[cut[cut >= owner]] = False
        return np.flatnonzero(valid)

    def _keys(self, pos: np.ndarray, size: int) -> np.ndarray:
        keys = self.hashes[pos]
        for j in range(1, size):
            keys = (keys * self._MUL) ^ self.hashes[pos + j]
        return keys

    def level(self, size: int) -> _Level:
        if size not in self._levels:
            below = max((k for k in self._levels if k < size), default=0)
            if below == 0:
                candidates = self._starts(size)
            else:
                # an n-gram repeats only where the shorter gram at its start repeats
                prev = self._levels[below]
                candidates = prev.pos[prev.repeated]
                candidates = candidates[candidates + size <= self.offsets[1:][self.doc_of[candidates]]]
            self._levels[size] = self._group(candidates, self._keys(candidates, size))
        return self._levels[size]

    def _group(self, positions: np.ndarray, keys: np.ndarray) -> _Level:
        shift = np.uint64(self.pos_bits)
        packed = keys >> shift
        packed <<= shift
        packed |= positions.astype(np.uint64)
        packed.sort()
        pos = (packed & np.uint64((1 << self.pos_bits) - 1)).astype(np.int64)
        packed >>= shift
        first = np.ones(len(pos), dtype=bool)
        np.not_equal(packed[1:], packed[:-1], out=first[1:])
        next_first = np.ones(len(pos), dtype=bool)
        next_first[:-1] = first[1:]
        return _Level(pos, first, ~(first & next_first))

    def _chars(self, pos: np.ndarray, size: int) -> np.ndarray:
        """Characters of the n-grams starting at ``pos`` with their words concatenated."""
        return (self.cum_len[pos + size] - self.cum_len[pos]).astype(np.float64)

    def top_chars(self, size: int) -> np.ndarray:
        """datatrove's ``find_top_duplicate``: len(" ".join(top n-gram)) * its count, per document.

        The top n-gram is the most frequent, the earliest on ties (``Counter.most_common``);
        0 for a document with fewer than ``size`` words (datatrove skips the rule there).
        """
        counts = np.diff(self.offsets)
        top = np.zeros(self.n_docs)
        has = np.flatnonzero(counts >= size)
        starts = self.offsets[:-1][has]
        top[has] = self._chars(starts, size) + size - 1
        level = self.level(size)
        rep = np.flatnonzero(level.repeated)
        if len(rep):
            run_heads = np.flatnonzero(level.first[rep])
            count = np.diff(np.append(run_heads, len(rep)))
            first_pos = level.pos[rep[run_heads]]
            # per document: the highest count, then the earliest first occurrence
            score = (count.astype(np.int64) << 40) | ((1 << 40) - 1 - first_pos)
            best = np.full(self.n_docs, -1, dtype=np.int64)
            np.maximum.at(best, self.doc_of[first_pos], score)
            docs = np.flatnonzero(best >= 0)
            best_count = best[docs] >> 40
            best_pos = (1 << 40) - 1 - (best[docs] & ((1 << 40) - 1))
            top[docs] = best_count * (self._chars(best_pos, size) + size - 1)
        return top

    def repeated_chars_upper_bound(self, size: int) -> np.ndarray:
        """Characters of every n-gram that occurred before: never below ``find_all_duplicate``."""
        level = self.level(size)
        later = level.pos[~level.first]
        return np.bincount(self.doc_of[later], weights=self._chars(later, size), minlength=self.n_docs)

    def repeated_chars(self, size: int, docs: np.ndarray) -> np.ndarray:
        """datatrove's ``find_all_duplicate`` for the given documents (greedy: a repeat skips n words)."""
        level = self.level(size)
        wanted = np.zeros(self.n_docs, dtype=bool)
        wanted[docs] = True
        pick = level.repeated & wanted[self.doc_of[level.pos]]
        run_id = np.cumsum(level.first) - 1
        pos, run = level.pos[pick], run_id[pick]
        if len(pos) == 0:
            return np.zeros(len(docs))
        order = np.argsort(pos, kind="stable")
        pos, run = pos[order], run[order]
        chars = self._chars(pos, size)
        doc = self.doc_of[pos]
        total = dict.fromkeys(docs.tolist(), 0.0)
        bounds = np.flatnonzero(np.concatenate([[True], doc[1:] != doc[:-1], [True]]))
        pos_l, run_l, chars_l = pos.tolist(), run.tolist(), chars.tolist()
        for a, b in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
            seen: set[int] = set()
            skip_until = -1
            repeated = 0.0
            for i in range(a, b):
                if pos_l[i] < skip_until:
                    continue
                if run_l[i] in seen:
                    repeated += chars_l[i]
                    skip_until = pos_l[i] + size
                else:
                    seen.add(run_l[i])
            total[int(doc[a])] = repeated
        return np.array([total[d] for d in docs.tolist()])
