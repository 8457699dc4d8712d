"""Quality filters (gopher_quality, gopher_repetition, c4_quality, fineweb_quality) against datatrove 0.10.1.

Every drop reason is triggered by a literal text and checked against datatrove's filter on the
same text; configs, row order and earlier drop reasons; the word splitter and the n-gram
counting against datatrove's own functions; and decisions on real documents.
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from pydantic import ValidationError

from corpus import schema
from corpus.ops import _words, quality
from corpus.ops.registry import Operator, config_errors, get_operator

DATATROVE_FILTERS = {
    "gopher_quality@1": "GopherQualityFilter",
    "gopher_repetition@1": "GopherRepetitionFilter",
    "c4_quality@1": "C4QualityFilter",
    "fineweb_quality@1": "FineWebQualityFilter",
}


def op(key: str) -> Operator:
    return get_operator(key)


def reasons(key: str, texts: list[str | None], **config: object) -> list[str | None]:
    o = op(key)
    out = o.fn(pl.DataFrame({schema.TEXT: texts}, schema={schema.TEXT: pl.String}), o.parse_config(config))
    return out[schema.DROP].to_list()


def datatrove_reasons(key: str, texts: list[str]) -> list[str | None]:
    from datatrove.data import Document
    from datatrove.pipeline import filters

    step = getattr(filters, DATATROVE_FILTERS[key])()
    out: list[str | None] = []
    for i, text in enumerate(texts):
        verdict = step.filter(Document(text=text, id=str(i)))
        out.append(None if verdict is True else verdict[1])
    return out


CLEAN = (
    "The history of the town is closely tied to the river that runs through it.\n"
    "Merchants built warehouses along the banks, and the harbour grew with the trade in grain and wool.\n"
    "By the end of the century the population had doubled, and a new bridge connected the two districts.\n"
    "Today the old warehouses have been turned into homes, shops and a museum that tells the story of the port.\n"
    "Visitors can walk along the river path, which follows the water for several miles to the sea.\n"
    "In summer a market is held on the square every Saturday, with farmers selling cheese, bread and fruit."
)

GOPHER_QUALITY_CASES = {
    "gopher_short_doc": "Far too short to be a real document.",
    "gopher_long_doc": "the cat sat with the dog on a mat. " * 11_200,
    "gopher_below_avg_threshold": "I am a ox by it. " * 12,
    "gopher_above_avg_threshold": "internationalization characteristically the and " * 20,
    "gopher_too_many_hashes": "the quick brown fox jumps over the lazy dog and " * 6 + " #" * 20,
    "gopher_too_many_ellipsis": "the quick brown fox jumps over the lazy dog and " * 6 + " ..." * 20,
    "gopher_too_many_bullets": "\n".join("- the quick brown fox jumps over the lazy dog" for _ in range(20)),
    "gopher_too_many_end_ellipsis": "\n".join(
        "the quick brown fox jumps over the lazy dog and the cat..." for _ in range(10)
    ),
    "gopher_below_alpha_threshold": " ".join(f"the {1000 + i}" for i in range(40)),
    "gopher_enough_stop_words": "quick brown foxes jump over lazy dogs " * 10,
}

_DUP_FRACTION = dict(((5, 0.15), (6, 0.14), (7, 0.13), (8, 0.12), (9, 0.11), (10, 0.10)))


def _repeated_phrase(n: int) -> str:
    """A text whose only repetition is one phrase of ``n`` words, written twice.

    The phrase ends with a long word, so its repeated n-gram holds most of the repeated
    characters, and the text is just short enough for those to pass the n-gram threshold:
    the first rule it fails is ``duplicated_{n}_n_grams``.
    """
    phrase = " ".join([f"s{i}x" for i in range(n - 1)] + ["supercalifragilisticexpialidociousxxxxxx"])
    target = len(phrase.replace(" ", "")) / _DUP_FRACTION[n] / 1.12
    filler = ""
    k = 0
    while 2 * len(phrase) + len(filler) + 3 < target:
        filler += f" w{k}q"
        k += 1
    half = len(filler) // 2
    return f"{phrase} {filler[:half].strip()} {phrase} {filler[half:].strip()}"


REPETITION_CASES = {
    "empty": "",
    "dup_para_frac": "A first paragraph here.\n\nA first paragraph here.\n\nAnd a second one.",
    "dup_para_char_frac": (
        "This paragraph is long and it is written out twice in this text, word for word. " * 2 + "\n\n"
    )
    * 2
    + "Short one.\n\nAnother short one.\n\nA third short one.\n\nAnd a fourth.\n\nAnd a fifth.",
    "dup_line_frac": "a line of text\nanother line\na line of text",
    "dup_line_char_frac": "This long line of text appears twice in the whole document text.\n"
    "This long line of text appears twice in the whole document text.\nshort\nlines\nhere\nend",
    "top_2_gram": "the cat " * 20 + "sat down",
    "top_3_gram": " ".join(f"alpha beta gamma f{i}aaaaaa f{i}bbbbbbb f{i}cccccc f{i}dddddddd" for i in range(6)),
    "top_4_gram": " ".join(
        f"alpha beta gamma delta f{i}aaaaaaaaaa f{i}bbbbbbbbbbb f{i}cccccccccc f{i}ddddddddddd"
        f" f{i}eeeeeeeeee f{i}ffffffffff"
        for i in range(5)
    ),
    **{f"duplicated_{n}_n_grams": _repeated_phrase(n) for n in range(5, 11)},
}

C4_CASES = {
    "lorem_ipsum": "Lorem ipsum dolor sit amet, consectetur adipiscing elit.\n" + CLEAN,
    "curly_bracket": CLEAN + "\nThe function body { return x; } is shown here.",
    "too_few_sentences": "Just one sentence here.\nheading without a full stop\nAnother sentence is here.",
}

FINEWEB_CASES = {
    "empty": "\n \n\t\n",
    "line_punct_ratio": "no punctuation on this line\nnone on this line either\nor here at all\nnor here",
    "short_line_ratio": "Yes.\nNo.\nOk.\nThis line is long enough to count as a normal line of text.",
    "char_dup_ratio": "This line repeats and is long enough to matter.\n"
    "This line repeats and is long enough to matter.\n"
    "Another different line that is also long enough.",
    "list_ratio": "\n".join(f"Pneumonoultramicroscopicsilicovolcanoconiosis{i}." for i in range(10)),
}


@pytest.mark.parametrize(
    "key,cases",
    [
        ("gopher_quality@1", GOPHER_QUALITY_CASES),
        ("gopher_repetition@1", REPETITION_CASES),
        ("c4_quality@1", C4_CASES),
        ("fineweb_quality@1", FINEWEB_CASES),
    ],
    ids=["gopher_quality", "gopher_repetition", "c4_quality", "fineweb_quality"],
)
def test_every_reason_on_a_literal_text_and_a_clean_text_kept(key: str, cases: dict[str, str]) -> None:
    texts = [*cases.values(), CLEAN]
    expected = [*cases.keys(), None]
    assert reasons(key, texts) == expected
    assert datatrove_reasons(key, texts) == expected  # the same verdicts as datatrove
    declared = set(op(key).reasons)
    assert set(cases) <= declared


def test_declared_reasons_cover_every_reason_the_code_can_emit() -> None:
    assert set(op("gopher_quality@1").reasons) == set(GOPHER_QUALITY_CASES)
    assert set(op("c4_quality@1").reasons) == set(C4_CASES)
    assert set(op("fineweb_quality@1").reasons) == set(FINEWEB_CASES)
    repetition = set(op("gopher_repetition@1").reasons)
    assert set(REPETITION_CASES) <= repetition
    assert {f"top_{n}_gram" for n in range(1, 11)} | {f"duplicated_{n}_n_grams" for n in range(1, 11)} <= repetition
    for key in DATATROVE_FILTERS:
        assert op(key).kind == "filter" and op(key).tags == ("quality",)
        assert "datatrove" in op(key).description  # the description says whose rules these are


def test_c4_rules_that_only_skip_a_line_do_not_drop() -> None:
    # a '{' on a line mentioning javascript is skipped with the line; a short or
    # unpunctuated line with 'lorem ipsum' never counts, so it cannot drop the document
    texts = [
        CLEAN + "\nEnable javascript to see the menu { here }.",
        CLEAN + "\nlorem ipsum",
        CLEAN + "\nWe use cookies {and} you agree to it.",
        CLEAN.replace("\n", "[1]\n") + "[citation needed]",
    ]
    assert reasons("c4_quality@1", texts) == datatrove_reasons("c4_quality@1", texts)
    assert reasons("c4_quality@1", texts)[:2] == [None, None]


def test_rules_can_be_turned_off_and_thresholds_moved() -> None:
    short = GOPHER_QUALITY_CASES["gopher_short_doc"]
    assert reasons("gopher_quality@1", [short], min_doc_words=None, min_stop_words=None) == [None]
    assert reasons("gopher_quality@1", [CLEAN], min_doc_words=500) == ["gopher_short_doc"]
    assert reasons("c4_quality@1", [C4_CASES["too_few_sentences"]], min_num_sentences=2) == [None]
    assert reasons("c4_quality@1", [C4_CASES["curly_bracket"]], filter_curly_bracket=False) == [None]
    assert reasons("fineweb_quality@1", [FINEWEB_CASES["line_punct_ratio"]], line_punct_exclude_zero=True) != [
        "line_punct_ratio"
    ]
    looping = REPETITION_CASES["top_2_gram"]
    assert reasons("gopher_repetition@1", [looping], top_n_grams=[]) == ["duplicated_5_n_grams"]
    assert reasons("gopher_repetition@1", [looping], top_n_grams=[[2, 0.9]], dup_n_grams=[]) == [None]
    assert reasons("gopher_repetition@1", [looping], top_n_grams=[[3, 0.1]]) == ["top_3_gram"]


@pytest.mark.parametrize(
    "key,raw,field",
    [
        ("gopher_quality@1", {"min_doc_words": -1}, "min_doc_words"),
        ("gopher_quality@1", {"max_non_alpha_words_ratio": 1.5}, "max_non_alpha_words_ratio"),
        ("gopher_quality@1", {"min_words": 5}, "min_words"),
        ("gopher_repetition@1", {"dup_line_frac": -0.1}, "dup_line_frac"),
        ("gopher_repetition@1", {"top_n_grams": [[0, 0.2]]}, "top_n_grams"),
        ("gopher_repetition@1", {"dup_n_grams": [[5, 2.0]]}, "dup_n_grams"),
        ("c4_quality@1", {"min_num_sentences": -1}, "min_num_sentences"),
        ("c4_quality@1", {"bad_words": True}, "bad_words"),
        ("fineweb_quality@1", {"short_line_length": -30}, "short_line_length"),
        ("fineweb_quality@1", {"line_punct_thr": 2}, "line_punct_thr"),
    ],
)
def test_invalid_configs_are_errors_that_name_the_field(key: str, raw: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError):
        op(key).parse_config(raw)
    errors = config_errors(op(key), raw)
    assert errors and errors[0][0].startswith(field)


def test_defaults_are_datatrove_defaults() -> None:
    from datatrove.pipeline.filters import (
        C4QualityFilter,
        FineWebQualityFilter,
        GopherQualityFilter,
        GopherRepetitionFilter,
    )

    pairs = [
        (
            quality.GopherQualityConfig(),
            GopherQualityFilter(),
            [
                "min_doc_words",
                "max_doc_words",
                "min_avg_word_length",
                "max_avg_word_length",
                "max_symbol_word_ratio",
                "max_bullet_lines_ratio",
                "max_ellipsis_lines_ratio",
                "max_non_alpha_words_ratio",
                "min_stop_words",
            ],
        ),
        (
            quality.GopherRepetitionConfig(),
            GopherRepetitionFilter(),
            [
                "dup_line_frac",
                "dup_para_frac",
                "dup_line_char_frac",
                "dup_para_char_frac",
                "top_n_grams",
                "dup_n_grams",
            ],
        ),
        (
            quality.C4QualityConfig(),
            C4QualityFilter(),
            [
                "remove_citations",
                "filter_no_terminal_punct",
                "min_num_sentences",
                "min_words_per_line",
                "max_word_length",
                "filter_lorem_ipsum",
                "filter_javascript",
                "filter_curly_bracket",
                "filter_policy",
            ],
        ),
        (
            quality.FineWebQualityConfig(),
            FineWebQualityFilter(),
            [
                "line_punct_thr",
                "line_punct_exclude_zero",
                "short_line_length",
                "char_duplicates_ratio",
                "new_line_ratio",
            ],
        ),
    ]
    for ours, theirs, fields in pairs:
        for name in fields:
            assert getattr(ours, name) == getattr(theirs, name), name
    assert set(quality.GopherQualityConfig().stop_words) == GopherQualityFilter().stop_words
    assert quality.FineWebQualityConfig().short_line_thr == FineWebQualityFilter().short_line_threshold


def test_rows_order_and_other_columns_are_kept() -> None:
    texts = [CLEAN, GOPHER_QUALITY_CASES["gopher_short_doc"], None, CLEAN + "\n" + CLEAN, "x"]
    batch = pl.DataFrame({schema.ID: [f"d{i}" for i in range(5)], schema.TEXT: texts, "score": [5, 4, 3, 2, 1]})
    for key in DATATROVE_FILTERS:
        o = op(key)
        out = o.fn(batch, o.parse_config({}))
        assert out.height == batch.height
        assert out.columns == [*batch.columns, schema.DROP]
        assert out.drop(schema.DROP).equals(batch)
        assert out[schema.TEXT].to_list() == texts  # filters tag, never rewrite text
    assert reasons("gopher_quality@1", texts)[:3] == [None, "gopher_short_doc", "gopher_short_doc"]


def test_an_earlier_reason_is_kept_and_not_reevaluated() -> None:
    batch = pl.DataFrame(
        {
            schema.TEXT: [GOPHER_QUALITY_CASES["gopher_short_doc"], CLEAN, "tiny"],
            schema.DROP: ["language_not_en", None, None],
        }
    )
    o = op("gopher_quality@1")
    out = o.fn(batch, o.parse_config({}))
    assert out[schema.DROP].to_list() == ["language_not_en", None, "gopher_short_doc"]
    assert out.columns == batch.columns
    all_dropped = batch.with_columns(pl.lit("earlier").alias(schema.DROP))
    assert o.fn(all_dropped, o.parse_config({}))[schema.DROP].to_list() == ["earlier"] * 3


def test_missing_text_column_is_an_error_that_says_what_to_do() -> None:
    o = op("fineweb_quality@1")
    with pytest.raises(KeyError, match="no 'text' column"):
        o.fn(pl.DataFrame({"body": ["x"]}), o.parse_config({}))


# ------------------------------------------------------------------------------ words


SPLIT_CASES = [
    "<<48/2=24>>24 clips and $10.50, or 10% of 5km at 10am.",
    "Don't can't I'm we'll John's James' o'clock O'Brien 'tis l'homme c'est geht's cannot im Haus.",
    "U.S. USA. J. Smith etc. e.g. a.m. Mr. Smith end.The end.the Covid-19 1990-1995 well-known A-1 -5 word-",
    "http://example.com/path). www.example.com (see 8) f(x): ... wow!! what?! “Quote,” he said. [1]",
    "km/h 5km 3.14 1,000 a,b 10:30 a:b x=y 2+2 3*4 C++ AT&T #tag C# @-@ @,@ pardon,-- Kinder- und",
    "人人生而自由，在尊严和权利上一律平等。 Daß ist's schön. Ça va? L'État z.B. ./run.sh +49 .5",
]


@pytest.mark.parametrize("text", SPLIT_CASES)
def test_words_match_datatrove_english_word_tokenizer(text: str) -> None:
    from datatrove.utils.text import split_into_words

    words = _words.split_words(pl.Series([text]))
    assert words.words.to_list() == split_into_words(text)
    assert words.offsets.tolist() == [0, len(words.words)]


def test_words_of_several_documents_stay_apart() -> None:
    words = _words.split_words(pl.Series(["Mr.", None, "", "don't stop", "ok"]))
    assert words.offsets.tolist() == [0, 1, 1, 1, 4, 5]
    assert words.words.to_list() == ["Mr.", "do", "n't", "stop", "ok"]


def test_sentence_count_follows_spacy_sentencizer() -> None:
    from datatrove.utils.text import split_into_sentences

    for line in ["One. Two! Three? Four.", 'He said "Stop." Then he left.', "No end mark here", "Dr. Who went home."]:
        words = _words.split_words(pl.Series([line])).words.to_list()
        assert _words.count_sentences(words) == len(split_into_sentences(line)), line


def test_embedded_tables_equal_datatrove_and_spacy() -> None:
    from datatrove.utils.text import PUNCTUATION_SET, TERMINAL_PUNCTUATION
    from spacy.lang.en.tokenizer_exceptions import TOKENIZER_EXCEPTIONS
    from spacy.pipeline.sentencizer import Sentencizer
    from spacy.symbols import ORTH

    assert _words.PUNCTUATION_SET == PUNCTUATION_SET
    assert not any(ch.isalpha() for ch in PUNCTUATION_SET)  # so a word with a letter is never a symbol word
    assert _words.TERMINAL_PUNCTUATION == TERMINAL_PUNCTUATION
    assert set(Sentencizer.default_punct_chars) == _words.SENTENCE_END_CHARS
    split = {k: [t[ORTH] for t in v] for k, v in TOKENIZER_EXCEPTIONS.items() if len(v) > 1}
    assert _words._fixups().splits == split
    kept = {k for k, v in TOKENIZER_EXCEPTIONS.items() if len(v) == 1 and not re.fullmatch(r"\w+", k)}
    assert set(_words._KEPT_WHOLE.split()) <= kept


def test_ngram_counts_equal_datatrove_functions() -> None:
    from datatrove.pipeline.filters.gopher_repetition_filter import find_all_duplicate, find_top_duplicate, get_n_grams

    rng = random.Random(7)
    docs = []
    for _ in range(300):
        vocab = [
            rng.choice(["a", "bb", "ccc", "dd", "e", "ffff"]) + str(rng.randrange(3)) for _ in range(rng.randint(1, 6))
        ]
        docs.append([rng.choice(vocab) for _ in range(rng.randint(0, 40))])
    texts = pl.Series([" ".join(d) for d in docs])
    words = _words.split_words(texts)
    assert [words.words.to_list()[a:b] for a, b in zip(words.offsets[:-1], words.offsets[1:], strict=True)] == docs
    grams = quality._NGrams(words)
    for size in range(2, 11):
        top = grams.top_chars(size)
        assert top.tolist() == [find_top_duplicate(get_n_grams(d, size)) if len(d) >= size else 0 for d in docs], size
        exact = grams.repeated_chars(size, np.arange(len(docs)))
        assert exact.tolist() == [find_all_duplicate(d, size) for d in docs], size
        assert (grams.repeated_chars_upper_bound(size) >= exact).all()


# ------------------------------------------------------------------------------ real documents


def _real_sample(root: Path) -> list[str]:
    """About 400 real documents of every kind in the shared corpora, in a fixed order."""
    import trafilatura
    from fastwarc.warc import ArchiveIterator, WarcRecordType

    texts: list[str] = []
    with open(root / "web" / "crawl-sample.warc.gz", "rb") as stream:
        for record in ArchiveIterator(stream, record_types=WarcRecordType.response):
            text = trafilatura.extract(record.reader.read().decode("utf-8", "replace"))
            if text:
                texts.append(text)
            if len(texts) >= 60:
                break
    with open(root / "math" / "gsm8k-train.jsonl", encoding="utf-8") as lines:
        rows = [json.loads(line) for line in lines]
    texts += [f"{r['question']}\n{r['answer']}" for r in rows[::50]]
    wiki = (root / "encyclopedia" / "wikitext2-valid.txt").read_text(encoding="utf-8")
    articles = re.split(r"\n(?= = [^=].* = \n)", wiki)
    texts += [a.strip("\n") for a in articles[1::3] if a.strip()]
    plays = (root / "literature" / "tinyshakespeare.txt").read_text(encoding="utf-8").splitlines()
    texts += ["\n".join(plays[i : i + 40]) for i in range(0, len(plays), 400)]
    speeches = sorted((root / "speeches" / "inaugural").glob("*.txt"))[::3]
    udhr = sorted((root / "multilingual" / "udhr").glob("*.txt"))[::8]
    texts += [p.read_bytes().decode("utf-8", "replace") for p in [*speeches, *udhr]]
    return texts


@pytest.mark.shared_data
def test_decisions_agree_with_datatrove_on_real_documents(shared_data: Path) -> None:
    texts = _real_sample(shared_data)
    assert len(texts) >= 300
    for key in DATATROVE_FILTERS:
        ours = reasons(key, texts)
        theirs = datatrove_reasons(key, texts)
        same_decision = sum((a is None) == (b is None) for a, b in zip(ours, theirs, strict=True)) / len(texts)
        both = [(a, b) for a, b in zip(ours, theirs, strict=True) if a and b]
        same_reason = sum(a == b for a, b in both) / max(len(both), 1)
        assert same_decision >= 0.99, (key, same_decision)
        assert same_reason >= 0.98, (key, same_reason)
        assert any(theirs) and not all(theirs)  # the sample exercises both outcomes
