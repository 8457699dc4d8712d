"""The datatrove steps a spec may name in ``datatrove_step@1``, and the arguments each accepts.

A spec names a step by its class name and gives plain values (numbers, booleans, short
strings, short lists of them); nothing from a spec is imported, executed or templated. Each
entry here fixes the class (imported from datatrove by this module, never from a spec path)
and a pydantic model of the keyword arguments it accepts, with bounds. Arguments that take
objects (writers, callables) or that select another language (whose tokenizer may need more
packages) are not offered.

Steps that download something when they start (a fastText model, a word list, block lists)
or that take code are refused with the reason and what to use instead; nothing is fetched
at run time.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from corpus.ops import quality

StepKind = Literal["filter", "extractor", "formatter"]

Short = Annotated[str, StringConstraints(max_length=200)]
Ratio = Annotated[float, Field(ge=0.0, le=1.0)]
Count = Annotated[int, Field(ge=0, le=10_000_000)]
Positive = Annotated[float, Field(ge=0.0, le=1_000_000.0)]
CountOrOff = Annotated[int, Field(ge=-1, le=10_000_000, description="-1 turns the rule off (datatrove's convention)")]
NGramRule = tuple[Annotated[int, Field(ge=1, le=10)], Ratio]


class StepArgs(BaseModel):
    """Base of the argument models: unknown arguments are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class GopherQualityArgs(StepArgs):
    min_doc_words: Count | None = 50
    max_doc_words: Count | None = 100_000
    min_avg_word_length: Positive | None = 3
    max_avg_word_length: Positive | None = 10
    max_symbol_word_ratio: Positive | None = 0.1
    max_bullet_lines_ratio: Ratio | None = 0.9
    max_ellipsis_lines_ratio: Ratio | None = 0.3
    max_non_alpha_words_ratio: Ratio | None = 0.8
    min_stop_words: Count | None = 2
    stop_words: list[Short] | None = Field(None, max_length=2_000)


class GopherRepetitionArgs(StepArgs):
    dup_line_frac: Ratio | None = 0.3
    dup_para_frac: Ratio | None = 0.3
    dup_line_char_frac: Ratio | None = 0.2
    dup_para_char_frac: Ratio | None = 0.2
    top_n_grams: tuple[NGramRule, ...] = Field(((2, 0.2), (3, 0.18), (4, 0.16)), max_length=10)
    dup_n_grams: tuple[NGramRule, ...] = Field(
        ((5, 0.15), (6, 0.14), (7, 0.13), (8, 0.12), (9, 0.11), (10, 0.10)), max_length=10
    )


class C4QualityArgs(StepArgs):
    split_paragraph: bool = True
    remove_citations: bool = True
    filter_no_terminal_punct: bool = True
    min_num_sentences: CountOrOff = 5
    min_words_per_line: CountOrOff = 3
    max_word_length: CountOrOff = 1000
    filter_lorem_ipsum: bool = True
    filter_javascript: bool = True
    filter_curly_bracket: bool = True
    filter_policy: bool = True


class NoArgs(StepArgs):
    pass


class FineWebQualityArgs(StepArgs):
    line_punct_thr: Ratio = 0.12
    line_punct_exclude_zero: bool = False
    stop_chars: tuple[Annotated[str, StringConstraints(min_length=1, max_length=8)], ...] | None = Field(
        None, max_length=200
    )
    short_line_thr: Ratio = 0.67
    short_line_length: Count = 30
    char_duplicates_ratio: Ratio = 0.01
    new_line_ratio: Positive = 0.3


class TrafilaturaArgs(StepArgs):
    favour_precision: bool = True
    deduplicate: bool = True
    timeout: float = Field(1.0, gt=0.0, le=120.0, description="seconds per document")


class FTFYArgs(StepArgs):
    unescape_html: Literal["auto"] | bool = "auto"
    remove_terminal_escapes: bool = True
    fix_encoding: bool = True
    restore_byte_a0: bool = True
    replace_lossy_sequences: bool = True
    decode_inconsistent_utf8: bool = True
    fix_c1_controls: bool = True
    fix_latin_ligatures: bool = False
    fix_character_width: bool = False
    uncurl_quotes: bool = False
    fix_line_breaks: bool = False
    fix_surrogates: bool = True
    remove_control_chars: bool = True
    normalization: Literal["NFC", "NFD", "NFKC", "NFKD"] | None = None


Replacements = tuple[Annotated[str, StringConstraints(min_length=1, max_length=100)], ...]


class PIIArgs(StepArgs):
    remove_emails: bool = True
    remove_ips: bool = True
    only_remove_public_ips: bool = True
    email_replacement: Replacements = Field(
        ("email@example.com", "firstname.lastname@example.org"), min_length=1, max_length=16
    )
    ip_replacement: Replacements = Field(
        ("22.214.171.124", "126.96.36.199", "188.8.131.52", "184.108.40.206", "220.127.116.11", "18.104.22.168"),
        min_length=1,
        max_length=16,
    )


class SymbolLinesArgs(StepArgs):
    symbols_to_remove: list[Annotated[str, StringConstraints(min_length=1, max_length=4)]] | None = Field(
        None, max_length=500
    )
    replace_char: Annotated[str, StringConstraints(max_length=4)] = ""


@dataclass(frozen=True)
class AllowedStep:
    name: str  # datatrove's class name, as a spec writes it
    kind: StepKind
    module: str  # where datatrove defines it (fixed here, never read from a spec)
    args: type[StepArgs]
    reasons: tuple[str, ...] = ()  # datatrove's own drop reasons, for describe()

    def load(self) -> type:
        return getattr(importlib.import_module(self.module), self.name)


_F, _E, _M = "datatrove.pipeline.filters", "datatrove.pipeline.extractors", "datatrove.pipeline.formatters"

ALLOWED: dict[str, AllowedStep] = {
    s.name: s
    for s in (
        AllowedStep("GopherQualityFilter", "filter", _F, GopherQualityArgs, quality.GOPHER_QUALITY_REASONS),
        AllowedStep("GopherRepetitionFilter", "filter", _F, GopherRepetitionArgs, quality.GOPHER_REPETITION_REASONS),
        AllowedStep("C4QualityFilter", "filter", _F, C4QualityArgs, quality.C4_QUALITY_REASONS),
        AllowedStep("C4ParagraphFilter", "filter", _F, NoArgs, ("lt_3_paragraphs",)),
        AllowedStep("FineWebQualityFilter", "filter", _F, FineWebQualityArgs, quality.FINEWEB_QUALITY_REASONS),
        AllowedStep("Trafilatura", "extractor", _E, TrafilaturaArgs),
        AllowedStep("FTFYFormatter", "formatter", _M, FTFYArgs),
        AllowedStep("PIIFormatter", "formatter", _M, PIIArgs),
        AllowedStep("SymbolLinesFormatter", "formatter", _M, SymbolLinesArgs),
    )
}

REFUSED: dict[str, str] = {
    "LanguageFilter": "it downloads a fastText language-id model when it starts; "
    "use language_filter@1 (pycld2, offline)",
    "FastTextClassifierFilter": "it downloads a fastText model from a URL or the hub when it starts",
    "C4BadWordsFilter": "it downloads its word lists when it starts",
    "UnigramLogProbFilter": "it downloads a unigram frequency list when it starts",
    "URLFilter": "it downloads its block lists when it starts",
    "LambdaFilter": "it runs a Python function, and nothing in a spec is executed",
    "RegexFilter": "it compiles a pattern from the spec, whose matching time is unbounded; use a quality filter",
    "SamplerFilter": "it samples with a per-process random state, so a rebuild would keep different documents",
    "ReadabilityInscriptis": "it needs readability-lxml and inscriptis, which the project does not install; "
    "use Trafilatura or extract_html@1",
}


def allowed_step(name: str) -> AllowedStep:
    """The allowlisted step called ``name``; ValueError naming the fix otherwise."""
    if name in ALLOWED:
        return ALLOWED[name]
    if name in REFUSED:
        raise ValueError(
            f"datatrove step {name!r} is not offered: {REFUSED[name]}. Offered steps: {', '.join(ALLOWED)}"
        )
    raise ValueError(f"unknown datatrove step {name!r}; write one of: {', '.join(ALLOWED)} (datatrove's class names)")


def parse_args(step: AllowedStep, raw: dict[str, Any]) -> StepArgs:
    return step.args.model_validate(raw)


def arg_names(step: AllowedStep) -> list[str]:
    return list(step.args.model_fields)
