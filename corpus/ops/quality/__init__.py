"""Heuristic quality filters that reproduce datatrove 0.10.1's, vectorized over a batch.

Four filters, each the same rules, thresholds, rule order and drop-reason names as the
datatrove filter it is named after, so that numbers are comparable across projects:

* ``gopher_quality@1``    - ``GopherQualityFilter`` (Rae et al. 2021, Gopher / MassiveText);
* ``gopher_repetition@1`` - ``GopherRepetitionFilter``;
* ``c4_quality@1``        - ``C4QualityFilter`` (Raffel et al. 2020), as a document-level tag;
* ``fineweb_quality@1``   - ``FineWebQualityFilter`` (Penedo et al. 2024).

datatrove applies the rules one document at a time in Python and splits words with spaCy,
which makes them slow. Here every rule is a polars / numpy expression over the whole batch:
lines and paragraphs by exploding split strings, words with the regex emulation of spaCy's
tokenizer in :mod:`corpus.ops._words`, n-gram repetition by sorting packed n-gram hashes
(:class:`_NGrams`). benchmarks/bench_quality.py measures speed and agreement with datatrove
(the figures are in benchmarks/results/quality.json): agreement on every 8th document of the
shared corpora followed by perturbed copies of them (sentences shuffled, words swapped), so
most of those documents are copies; datatrove's Gopher quality filter drops most of them, so
that filter's agreement rests mostly on drops.

Where the result can differ from datatrove's, and why:

* word splitting: the few segmentation differences listed in :mod:`corpus.ops._words`
  (they move a count by one word, so only documents right at a threshold can flip);
* n-grams are compared as word tuples (datatrove compares joined strings: ``"ab"+"c"``
  equals ``"a"+"bc"`` there) through 64-bit hashes;
* where datatrove divides by zero (a document with no words or no lines while the rule
  needing them is on) the ratio is taken as 0 instead of raising; a null text is ``""``;
* ``c4_quality`` decides like ``C4QualityFilter`` but leaves the text as it is (datatrove
  removes the lines that do not count from documents it keeps), always splits into lines
  (datatrove's default), and has no bad-words rule (that is datatrove's separate
  ``C4BadWordsFilter``, which downloads a list; nothing is fetched here).

Filters only *tag*: each returns the batch, rows and order unchanged, with the ``_drop``
column holding the reason of the first rule a document fails (null = keep). A reason set by
an earlier step is kept, and documents that already carry one are not evaluated again.
"""

from __future__ import annotations

from corpus.ops.quality.c4 import C4_QUALITY_REASONS, C4QualityConfig, score_c4_quality
from corpus.ops.quality.common import PY_SPACE, Count, NGramSize, NonNegative, Ratio
from corpus.ops.quality.fineweb import FINEWEB_QUALITY_REASONS, FineWebQualityConfig, score_fineweb_quality
from corpus.ops.quality.gopher import (
    GOPHER_QUALITY_REASONS,
    GOPHER_REPETITION_REASONS,
    GopherQualityConfig,
    GopherRepetitionConfig,
    score_gopher_quality,
    score_gopher_repetition,
)
from corpus.ops.quality.ngrams import _NGrams as _NGrams

__all__ = [
    "C4_QUALITY_REASONS",
    "FINEWEB_QUALITY_REASONS",
    "GOPHER_QUALITY_REASONS",
    "GOPHER_REPETITION_REASONS",
    "PY_SPACE",
    "C4QualityConfig",
    "Count",
    "FineWebQualityConfig",
    "GopherQualityConfig",
    "GopherRepetitionConfig",
    "NGramSize",
    "NonNegative",
    "Ratio",
    "score_c4_quality",
    "score_fineweb_quality",
    "score_gopher_quality",
    "score_gopher_repetition",
]
