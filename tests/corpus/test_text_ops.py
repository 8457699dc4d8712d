"""Text operators on literal texts: extraction, normalization, language, PII (drop reasons included)."""

from __future__ import annotations

import polars as pl
import pytest
from pydantic import ValidationError

from corpus import schema
from corpus.ops import extract, language, normalize, pii  # noqa: F401  (importing registers the operators)
from corpus.ops.registry import _REGISTRY, Operator


def op(key: str) -> Operator:
    return _REGISTRY[key]


def apply(key: str, df: pl.DataFrame, **config: object) -> pl.DataFrame:
    o = op(key)
    out = o.fn(df, o.parse_config(config))
    assert isinstance(out, pl.DataFrame) and out.height == df.height
    return out


def docs(
    texts: list[str | None], content_types: list[str | None] | None = None, titles: list[str | None] | None = None
) -> pl.DataFrame:
    n = len(texts)
    return pl.DataFrame(
        {
            schema.ID: [f"id{i}" for i in range(n)],
            schema.TEXT: texts,
            schema.SOURCE: ["s"] * n,
            schema.TITLE: titles or [None] * n,
            schema.CONTENT_TYPE: content_types or ["text/plain"] * n,
        },
        schema={
            schema.ID: pl.String,
            schema.TEXT: pl.String,
            schema.SOURCE: pl.String,
            schema.TITLE: pl.String,
            schema.CONTENT_TYPE: pl.String,
        },
    )


@pytest.mark.parametrize(
    "key,kind,tag",
    [
        ("extract_html@1", "map", "extract"),
        ("normalize_text@1", "map", "normalize"),
        ("language_filter@1", "filter", "language"),
        ("redact_pii@1", "map", "pii"),
    ],
)
def test_registered_with_description_and_defaults(key: str, kind: str, tag: str) -> None:
    o = op(key)
    assert o.kind == kind and tag in o.tags
    assert len(o.description) > 40 and "\n" not in o.description
    assert o.describe()["defaults"]  # every config field has a default
    with pytest.raises(ValidationError):
        o.parse_config({"no_such_option": 1})


# --- extract_html ----------------------------------------------------------------------------

ARTICLE = " ".join(
    f"Sentence {i} of the article explains how lighthouses guided ships along the rocky northern coast."
    for i in range(12)
)
PAGE = f"""<!DOCTYPE html><html><head><title> The  Lighthouse &amp; the Sea </title></head><body>
<nav><ul><li><a href="/">Home</a></li><li><a href="/news">News</a></li><li><a href="/shop">Shop</a></li></ul></nav>
<main><article><h1>The Lighthouse</h1><p>{ARTICLE}</p><p>{ARTICLE.replace("Sentence", "Line")}</p></article></main>
<footer><p>Copyright 2024 Example Media. <a href="/privacy">Privacy policy</a> |
<a href="/cookies">Cookie settings</a></p></footer>
</body></html>"""


@pytest.mark.parametrize("engine", ["trafilatura", "resiliparse"])
def test_extract_html_main_text_title_and_passthrough(engine: str) -> None:
    df = docs(
        [PAGE, PAGE, "plain   text stays <b>as is</b>"],
        ["text/html; charset=utf-8", "text/html", "text/plain"],
        [None, "Kept title", None],
    )
    out = apply("extract_html@1", df, engine=engine)
    text = out[schema.TEXT][0]
    assert "Sentence 3 of the article" in text and "Line 11 of the article" in text
    assert "<p>" not in text and "Cookie settings" not in text
    assert out[schema.TITLE].to_list() == ["The Lighthouse & the Sea", "Kept title", None]
    assert out[schema.CONTENT_TYPE].to_list() == ["text/plain", "text/plain", "text/plain"]
    assert out[schema.TEXT][2] == "plain   text stays <b>as is</b>"
    assert out[schema.DROP].to_list() == [None, None, None] and out[schema.ERROR].null_count() == 3


def test_extract_html_default_engine_is_the_benchmarked_choice() -> None:
    assert extract.ExtractHtmlConfig().engine == "trafilatura"


@pytest.mark.parametrize("engine", ["trafilatura", "resiliparse"])
def test_extract_html_empty_page_is_dropped(engine: str) -> None:
    out = apply(
        "extract_html@1",
        docs(["<html><head><title>x</title></head><body></body></html>"], ["text/html"]),
        engine=engine,
    )
    assert out[schema.DROP].to_list() == ["empty_extraction"]


def test_extract_html_engine_failure_is_a_record_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(_: extract.ExtractHtmlConfig):
        def fn(html: str) -> str:
            if "boom" in html:
                raise ValueError("parser exploded")
            return "fine text"

        return fn

    monkeypatch.setattr(extract, "make_extractor", broken)
    out = apply("extract_html@1", docs(["<p>boom</p>", "<p>ok</p>"], ["text/html", "text/html"]))
    assert out[schema.ERROR][0].startswith("extraction_failed:") and "parser exploded" in out[schema.ERROR][0]
    assert out[schema.ERROR][1] is None and out[schema.TEXT][1] == "fine text"


def test_page_title_helper() -> None:
    assert extract.page_title("<html><TITLE lang=en>\n A &lt;b&gt;\tC </TITLE>") == "A <b> C"
    assert extract.page_title("<html><body>no title</body></html>") is None


# --- normalize_text --------------------------------------------------------------------------


def test_normalize_whitespace_and_unicode() -> None:
    texts = [
        "Hello   world  \r\n\r\n\r\n\r\n\r\nnext\tline   \n    indented   x  ",
        "The Mona Lisa doesnÃ¢â‚¬â„¢t have eyebrows.",  # mojibake, twice encoded
        "e\u0301cole \ufb01nance \x1b[31mred\x1b[0m a\x00b\ufeff\x07",
        "def f():\n    x  =  1   \n\n\n\n\n    return x\n",
    ]
    out = apply("normalize_text@1", docs(texts, ["text/plain", "text/plain", None, "text/x-python"]))
    assert out[schema.TEXT].to_list() == [
        "Hello world\n\n\nnext\tline\n    indented x",
        "The Mona Lisa doesn\u2019t have eyebrows.",
        "\u00e9cole finance red ab",
        "def f():\n    x  =  1\n\n\n    return x",
    ]
    assert out[schema.DROP].null_count() == 4 and out[schema.ERROR].null_count() == 4


@pytest.mark.parametrize(
    "broken,fixed",
    [
        ("voil\u00c3 le travail", "voil\u00e0 le travail"),
        ("caf\u00c3\u00a9 cr\u00c3\u00a8me", "caf\u00e9 cr\u00e8me"),
        (
            "\u00d0\u00bf\u00d1\u20ac\u00d0\u00b8\u00d0\u00b2\u00d0\u00b5\u00d1\u201a",
            "\u043f\u0440\u0438\u0432\u0435\u0442",
        ),
        ("the \u00e2\u20ac\u0153quote\u00e2\u20ac\x9d", "the \u201cquote\u201d"),
        (
            "N\u00c3O SEI, S\u00e3o Paulo, \u043f\u0440\u0438\u0432\u0435\u0442, \u6771\u4eac",
            None,
        ),  # correct text stays
    ],
)
def test_normalize_repairs_mojibake_only(broken: str, fixed: str | None) -> None:
    out = apply("normalize_text@1", docs([broken]))
    assert out[schema.TEXT][0] == (fixed or broken)


def test_normalize_options() -> None:
    out = apply(
        "normalize_text@1",
        docs(["a\n\n\n\nb  c", "doesnÃ¢â‚¬â„¢t"]),
        max_blank_lines=0,
        collapse_spaces=False,
        fix_unicode=False,
    )
    assert out[schema.TEXT].to_list() == ["a\nb  c", "doesnÃ¢â‚¬â„¢t"]
    with pytest.raises(ValidationError):
        op("normalize_text@1").parse_config({"max_blank_lines": 99})
    with pytest.raises(ValidationError):
        op("normalize_text@1").parse_config({"normalization": "NFD"})


def test_normalize_empty_text_is_dropped() -> None:
    out = apply("normalize_text@1", docs(["  \n\t \u200b", "\x00\x01", None, "x"]))
    assert out[schema.DROP].to_list()[1:] == ["empty_text", "empty_text", None]
    assert out[schema.TEXT][3] == "x"


# --- language_filter -------------------------------------------------------------------------

EN = "The quick brown fox jumps over the lazy dog while the farmer watches from the old wooden porch."
DE = "Der schnelle braune Fuchs springt über den faulen Hund, während der Bauer von der alten Veranda zusieht."
FR = "Le renard brun rapide saute par-dessus le chien paresseux pendant que le fermier regarde depuis le porche."


def test_language_detection_and_scores() -> None:
    out = apply("language_filter@1", docs([EN, DE, FR, "12345 67890", "Der Hund", "ab\x01\x7f\x9f cd " + EN]))
    assert out[schema.LANGUAGE].to_list()[:4] == ["en", "de", "fr", "unknown"]
    assert out[schema.LANGUAGE][5] == "en"  # control characters (CLD2 rejects them) are handled
    scores = out[schema.LANGUAGE_SCORE].to_list()
    assert all(0.0 <= s <= 1.0 for s in scores)
    assert scores[0] > 0.9 and scores[3] == 0.0 and scores[4] < 0.5  # a two-word guess is not confident
    assert out[schema.DROP].to_list() == [None, None, None, "language_low_confidence", "language_low_confidence", None]


def test_language_filter_allowed_languages() -> None:
    out = apply("language_filter@1", docs([EN, DE, FR, "..."]), languages=["en", "fr"], min_score=0.5)
    assert out[schema.DROP].to_list() == [None, "language_not_allowed", None, "language_low_confidence"]
    anything = apply("language_filter@1", docs([EN, "..."]), min_score=0.0)
    assert anything[schema.DROP].to_list() == [None, None]


def test_language_config_validation() -> None:
    cfg = op("language_filter@1").config_model
    assert cfg(languages=["EN".lower(), "iw"]).languages == ["en", "he"]
    for bad in ({"languages": []}, {"languages": ["english"]}, {"min_score": 1.5}):
        with pytest.raises(ValidationError):
            cfg(**bad)


def test_language_detect_helper() -> None:
    assert language.detect(None) == ("unknown", 0.0)
    assert language.detect("") == ("unknown", 0.0)
    assert language.detect("a lone \ud800 surrogate in " + EN)[0] == "en"
    code, score = language.detect("这是一个用中文写的句子，用来测试语言识别是否能够正常工作。")
    assert code == "zh" and score > 0.5


# --- redact_pii ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text,expected,counts",
    [
        (
            "Mail john.doe@company.com or jane+news@mail.example.org.",
            "Mail email@example.com or email@example.com.",
            (2, 0, 0),
        ),
        (
            "Server 8.8.8.8 answered, 2606:4700:4700::1111 too.",
            "Server 22.214.171.124 answered, 2001:db8::1 too.",
            (0, 2, 0),
        ),
        (
            "Call +49 30 1234567 or (415) 555-2671 or 415-555-2671 or 1-800-555-0199.",
            "Call 202-555-0100 or 202-555-0100 or 202-555-0100 or 202-555-0100.",
            (0, 0, 4),
        ),
        ("Ring +44 20 7946 0958, today.", "Ring 202-555-0100, today.", (0, 0, 1)),
    ],
)
def test_pii_positives(text: str, expected: str, counts: tuple[int, int, int]) -> None:
    assert pii.redact(text, pii.RedactPiiConfig()) == (expected, *counts)


@pytest.mark.parametrize(
    "text",
    [
        "Retina images logo@2x.png and icon@3x.webp",  # asset names, not addresses
        "Upgrade to version 1.2.3.4, v2.0.1.3 or 1.2.3.4.5",  # version numbers
        "See sections 8.2.4.44 and 8.2.4.45 of the spec, and § 1.2.3.4",  # section numbers
        "Private 192.168.1.1, loopback 127.0.0.1, docs 2001:db8::5:1, link-local fe80::1",  # not public
        "Slices a[1::2], b[::3], time 12:30:45, MAC 00:1a:2b:3c:4d:5e, std::vector<int>",  # not IPv6
        "Dates 2023-12-05 and 12/05/2023, id 1234567890, fake 123-456-7890, price 555.12",  # not phones
        "Sum +1 2 3 4 5 6 7 8 and x = y + 12345, format '+000000120'",  # arithmetic, format specs
        "Already redacted: email@example.com, 22.214.171.124, 2001:db8::1, 202-555-0100",  # idempotent
    ],
)
def test_pii_false_positive_guards(text: str) -> None:
    assert pii.redact(text, pii.RedactPiiConfig()) == (text, 0, 0, 0)


def test_redact_pii_operator_counts_options_and_code_rows() -> None:
    df = docs(
        [
            "by bob@corp.com at 8.8.8.8",
            "y = weights@inputs.shape  # bob@corp.com",
            "nothing here",
            None,
            "lan 10.0.0.7",
        ],
        ["text/plain", "text/x-python", "text/plain", "text/plain", "text/plain"],
    )
    out = apply("redact_pii@1", df)
    assert out[schema.TEXT].to_list() == [
        "by email@example.com at 22.214.171.124",
        "y = weights@inputs.shape  # email@example.com",  # a matrix product in code is not an address
        "nothing here",
        None,
        "lan 10.0.0.7",
    ]
    assert out.schema["pii_email"] == pl.Int32
    assert out["pii_email"].to_list() == [1, 1, 0, 0, 0] and out["pii_ip"].to_list() == [1, 0, 0, 0, 0]
    again = apply("redact_pii@1", out.drop("pii_email", "pii_ip", "pii_phone"))
    assert again[schema.TEXT].equals(out[schema.TEXT]) and again["pii_email"].sum() == 0
    custom = apply("redact_pii@1", df, only_public_ips=False, email_replacement="<EMAIL>", ips=True, phones=False)
    assert custom[schema.TEXT][0] == "by <EMAIL> at 22.214.171.124" and custom[schema.TEXT][4] == "lan 22.214.171.124"
    off = apply("redact_pii@1", df, emails=False, ips=False, phones=False)
    assert off[schema.TEXT].equals(df[schema.TEXT]) and off["pii_email"].sum() == 0
