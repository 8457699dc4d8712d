"""``c4_quality@1``: datatrove's ``C4QualityFilter`` decisions, vectorized over a batch (see
:mod:`corpus.ops.quality`)."""

from __future__ import annotations

import numpy as np
import polars as pl
from pydantic import Field

from corpus.ops import _words
from corpus.ops.quality.common import (
    _NOT_SPACE,
    PY_SPACE,
    Count,
    _explode_parts,
    _splitlines,
    _tag,
)
from corpus.ops.registry import OpConfig, register

C4_QUALITY_REASONS = ("lorem_ipsum", "curly_bracket", "too_few_sentences")
_CITATION = r"\[\d*\]|\[edit\]|\[citation needed\]"
_POLICY = ("terms of use", "privacy policy", "cookie policy", "uses cookies", "use of cookies", "use cookies")


class C4QualityConfig(OpConfig):
    """datatrove ``C4QualityFilter`` parameters and defaults; null turns a count rule off (datatrove's -1).

    Lines are always the text's lines (datatrove's default ``split_paragraph=True``). The C4
    bad-words list is not part of this filter (in datatrove it is the separate
    ``C4BadWordsFilter``, which downloads the list): nothing is fetched.
    """

    remove_citations: bool = Field(True, description="ignore citations ([1], [edit]) in the line checks")
    filter_no_terminal_punct: bool = Field(True, description="lines must end with . ? ! \" or ' (not ...) to count")
    min_num_sentences: Count | None = Field(5, description="fewest sentences in the lines that count")
    min_words_per_line: Count | None = Field(3, description="fewest words for a line to count")
    max_word_length: Count | None = Field(1000, description="a line with a longer word does not count")
    filter_lorem_ipsum: bool = Field(True, description="drop documents containing 'lorem ipsum'")
    filter_javascript: bool = Field(True, description="lines mentioning javascript do not count")
    filter_curly_bracket: bool = Field(True, description="drop documents with a '{' in a counted line")
    filter_policy: bool = Field(True, description="lines about cookies / terms of use do not count")


@register("c4_quality", 1, "filter", C4QualityConfig, reasons=C4_QUALITY_REASONS, tags=("quality",))
def score_c4_quality(batch: pl.DataFrame, config: C4QualityConfig) -> pl.DataFrame:
    """Tag documents that fail C4's page rules, as datatrove's C4QualityFilter decides (same rules, reasons): fewer
    than 5 sentences in lines that end with terminal punctuation and have 3+ words, 'lorem ipsum' or a '{' in such a
    line.

    datatrove also *rewrites* the documents it keeps (drops the lines that do not count and
    the citations); a filter here only tags, so texts are left as they are and only the
    keep/drop decision is datatrove's. No bad-words list (nothing is downloaded).
    """
    return _tag(batch, "c4_quality@1", lambda texts: _c4_reasons(texts, config))


def _c4_reasons(texts: pl.Series, c: C4QualityConfig) -> np.ndarray:
    n = len(texts)
    flat, doc_of = _explode_parts(_splitlines(texts))
    line = flat.str.strip_chars(PY_SPACE)
    counting = np.ones(len(line), dtype=bool)  # lines that still count
    if c.max_word_length is not None:
        long_lines = np.flatnonzero(line.str.len_chars().to_numpy() > c.max_word_length)
        for i, text in zip(long_lines.tolist(), line.gather(long_lines).to_list(), strict=True):
            counting[i] = not any(len(w) > c.max_word_length for w in text.split())
    n_line_words = line.str.count_matches(f"{_NOT_SPACE}+").to_numpy()
    if c.remove_citations:
        bracketed = np.flatnonzero(line.str.contains("[", literal=True).to_numpy())
        if len(bracketed):
            line = line.scatter(bracketed, line.gather(bracketed).str.replace_all(_CITATION, ""))
    if c.filter_no_terminal_punct:
        counting &= line.str.contains(r"[.?!\"']$").to_numpy() & ~line.str.ends_with("...").to_numpy()
    if c.min_words_per_line is not None:
        counting &= n_line_words >= c.min_words_per_line
    idx = np.flatnonzero(counting)
    cand = line.gather(idx)
    lower = cand.str.to_lowercase()
    off = np.zeros(len(idx), dtype=bool)
    lorem = lower.str.contains("lorem ipsum", literal=True).to_numpy() if c.filter_lorem_ipsum else off
    js = lower.str.contains("javascript", literal=True).to_numpy() if c.filter_javascript else off
    curly = cand.str.contains("{", literal=True).to_numpy() if c.filter_curly_bracket else off.copy()
    policy = lower.str.contains_any(list(_POLICY)).to_numpy() if c.filter_policy else off.copy()
    # per counted line, in datatrove's order: lorem drops the document, javascript skips the
    # line, a curly bracket drops the document, policy skips the line, otherwise the line counts
    curly &= ~js
    policy &= ~(js | curly)
    ends_doc = lorem | curly
    doc_cand = doc_of[idx]
    reasons = np.full(n, None, dtype=object)
    if ends_doc.any():  # the document's first such line decides the reason
        ending = np.flatnonzero(ends_doc)
        first_end = np.full(n, len(idx), dtype=np.int64)
        np.minimum.at(first_end, doc_cand[ending], ending)
        has_end = np.flatnonzero(first_end < len(idx))
        reasons[has_end] = np.where(lorem[first_end[has_end]], "lorem_ipsum", "curly_bracket")
    if c.min_num_sentences is None:
        return reasons
    kept = ~(lorem | js | curly | policy)
    kept_per_doc = np.bincount(doc_cand[kept], minlength=n)
    # every counted line holds at least one sentence: only documents with fewer counted lines
    # than the minimum need their sentences counted
    short = np.flatnonzero((reasons == None) & (kept_per_doc < c.min_num_sentences))  # noqa: E711
    if len(short):
        in_short = np.zeros(n, dtype=bool)
        in_short[short] = True
        lines_to_count = np.flatnonzero(kept & in_short[doc_cand])
        sentences = np.zeros(n, dtype=np.int64)
        if len(lines_to_count):
            words = _words.split_words(cand.gather(lines_to_count))
            flat_words = words.words.to_list()
            for j, d in enumerate(doc_cand[lines_to_count].tolist()):
                sentences[d] += _words.count_sentences(flat_words[words.offsets[j] : words.offsets[j + 1]])
        few = short[sentences[short] < c.min_num_sentences]
        reasons[few] = "too_few_sentences"
    return reasons
