"""Unicode repair and whitespace normalization: ``normalize_text@1``.

Order of work, and why:

1. ftfy repairs mojibake (UTF-8 read as Latin-1, Windows-1252 or MacRoman) and C1
   control characters, only on rows that carry a mojibake signature and that ftfy's own
   badness check then flags (or that hold C1 controls): clean text, most of any corpus,
   never enters ftfy's slow per-line Python work. Options chosen for corpora: no
   HTML unescaping (``&lt;`` in code and docs is content), no quote uncurling and no
   full-width folding (they rewrite legitimate text, e.g. CJK punctuation). Latin ligatures
   are expanded for every row (``ﬁ`` -> ``fi``, PDF debris), vectorized.
2. Vectorized (polars, Rust regex) for every row: CRLF / CR / U+2028 / U+2029 to ``\\n``,
   terminal escape sequences and control characters removed (tab and newline kept),
   byte-order marks and NUL removed, NFC.
3. Whitespace: trailing spaces cut, runs of spaces and tabs *inside* a line collapsed to one
   space (leading indentation kept; in code rows, ``content_type`` ``text/x-*``, nothing inside
   the line is touched, since alignment there is meaningful), at most ``max_blank_lines``
   consecutive blank lines, leading and trailing whitespace stripped.

A text that is empty afterwards is tagged ``empty_text``.
"""

from __future__ import annotations

from typing import Any, Literal

import polars as pl
from pydantic import Field

from corpus import schema
from corpus.ops.registry import OpConfig, register

# control characters except \t and \n (C0, DEL, C1), plus BOM / zero-width no-break space
_CONTROL = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\x{feff}]"
_TERMINAL_ESCAPE = r"\x1b\[[0-9;?]*[A-Za-z]"
_LINE_BREAKS = r"\r\n|[\r\x{2028}\x{2029}\x{85}]"
_HSPACE = r"[^\S\n]"  # whitespace except newline
# a UTF-8 lead byte and a continuation byte, as Latin-1 / Windows-1252 / MacRoman characters
_MOJIBAKE_SIGNATURE = (
    r"[\x{c2}-\x{f4}\x{221a}\x{2248}\x{0192}][\x{80}-\x{bf}\x{152}\x{153}\x{160}\x{161}\x{178}\x{17d}"
    r"\x{17e}\x{192}\x{2c6}\x{2dc}\x{2013}\x{2014}\x{2018}-\x{201e}\x{2020}-\x{2022}\x{2026}\x{2030}"
    r"\x{2039}\x{203a}\x{20ac}\x{2122}\x{2211}\x{220f}\x{2202}\x{2206}\x{221e}\x{222b}\x{2260}\x{2264}\x{2265}\x{25ca}]"
    r"|[\x{c2}\x{c3}] "  # ... or with its no-break space byte turned into a space ("voilÃ le")
)


class NormalizeTextConfig(OpConfig):
    fix_unicode: bool = Field(True, description="repair mojibake and bad Unicode with ftfy")
    normalization: Literal["NFC", "NFKC"] = Field("NFC", description="Unicode normalization form")
    collapse_spaces: bool = Field(
        True, description="collapse runs of spaces/tabs inside a line (indentation and code rows are kept)"
    )
    max_blank_lines: int = Field(2, ge=0, le=20, description="at most this many consecutive blank lines")
    max_fix_chars: int = Field(
        1_000_000,
        ge=1_000,
        le=50_000_000,
        description="ftfy repairs texts up to this length (longer ones are only normalized)",
    )


def _ftfy_fixer() -> Any:
    import ftfy

    options = ftfy.TextFixerConfig(
        unescape_html=False,
        remove_terminal_escapes=True,
        fix_encoding=True,
        restore_byte_a0=True,
        replace_lossy_sequences=True,
        decode_inconsistent_utf8=True,
        fix_c1_controls=True,
        fix_latin_ligatures=False,  # done vectorized for every row
        fix_character_width=False,
        uncurl_quotes=False,
        fix_line_breaks=True,
        fix_surrogates=True,
        remove_control_chars=True,
        normalization=None,  # done vectorized afterwards
        explain=False,
    )

    def fix(text: str) -> str:
        return ftfy.fix_text(text, options)

    return fix


def _needs_ftfy(texts: pl.Series, config: NormalizeTextConfig) -> list[int]:
    """Rows where ftfy can change something beyond what the vectorized steps do.

    ftfy repairs mojibake only where its badness check fires, and C1 control characters.
    That check is slow (a few MB/s), so a vectorized signature finds the candidates first:
    UTF-8 decoded as Latin-1 / Windows-1252 / MacRoman always leaves a lead character
    ``Â``..``ô`` followed by a continuation character (``Ã©``, ``â€™``, ``Ð¿``). Only those
    rows get the badness check, and only the rows it flags go through ftfy.
    """
    from ftfy.badness import is_bad

    fits = (texts.str.len_chars() <= config.max_fix_chars).fill_null(False)
    c1 = texts.str.contains(r"[\x{80}-\x{9f}]").fill_null(False) & fits
    mojibake = texts.str.contains(_MOJIBAKE_SIGNATURE).fill_null(False) & fits & ~c1
    rows = mojibake.arg_true().to_list()
    flagged = [i for i, v in zip(rows, texts.gather(rows).to_list(), strict=True) if is_bad(v)] if rows else []
    return sorted(c1.arg_true().to_list() + flagged)


def _repair(texts: pl.Series, config: NormalizeTextConfig) -> tuple[pl.Series, list[str | None]]:
    """ftfy on the rows that can hold mojibake; a row ftfy fails on keeps its text and gets an error."""
    errors: list[str | None] = [None] * len(texts)
    idx = _needs_ftfy(texts, config)
    if idx:
        fix = _ftfy_fixer()
        values = texts.to_list()
        for i in idx:
            try:
                values[i] = fix(values[i])
            except Exception as exc:
                errors[i] = f"unicode_repair_failed: ftfy failed on this text: {type(exc).__name__}: {exc}"
        texts = pl.Series(texts.name, values, dtype=pl.String())
    from ftfy.chardata import LIGATURES

    ligatures = {chr(k): v for k, v in LIGATURES.items()}
    texts = texts.str.replace_many(list(ligatures), list(ligatures.values()))
    return texts, errors


def _normalize_expr(text: pl.Expr, is_code: pl.Expr, config: NormalizeTextConfig) -> pl.Expr:
    t = (
        text.str.replace_all(_LINE_BREAKS, "\n")
        .str.replace_all(_TERMINAL_ESCAPE, "")
        .str.replace_all(_CONTROL, "")
        .str.normalize(config.normalization)
        .str.replace_all(rf"{_HSPACE}+(\n|$)", "$1")  # trailing spaces
    )
    if config.collapse_spaces:
        collapsed = t.str.replace_all(rf"(\S){_HSPACE}{{2,}}", "$1 ")
        t = pl.when(is_code).then(t).otherwise(collapsed)
    keep = "\n" * (config.max_blank_lines + 1)
    t = t.str.replace_all(rf"\n{{{config.max_blank_lines + 2},}}", keep)
    return t.str.strip_chars()


@register(
    "normalize_text",
    1,
    "map",
    NormalizeTextConfig,
    reasons=("empty_text",),
    requires_packages=("ftfy",),
    tags=("normalize",),
)
def normalize_text(batch: pl.DataFrame, config: NormalizeTextConfig) -> pl.DataFrame:
    """Repair broken Unicode (mojibake, via ftfy), normalize to NFC and tidy whitespace (line endings, trailing and
    repeated spaces, runs of blank lines) while keeping indentation; texts left empty are tagged empty_text.

    Code rows (content_type text/x-*) keep their spacing inside lines. A text ftfy cannot
    process gets an ``_error`` and is quarantined.
    """
    texts = batch[schema.TEXT]
    errors: list[str | None] = [None] * batch.height
    if config.fix_unicode and batch.height:
        texts, errors = _repair(texts, config)
    is_code = (
        pl.col(schema.CONTENT_TYPE).fill_null("").str.starts_with("text/x-")
        if schema.CONTENT_TYPE in batch.columns
        else pl.lit(False)
    )
    out = batch.with_columns(texts.alias(schema.TEXT)).with_columns(
        _normalize_expr(pl.col(schema.TEXT), is_code, config).alias(schema.TEXT)
    )
    empty = pl.col(schema.TEXT).is_null() | (pl.col(schema.TEXT).str.len_bytes() == 0)
    return out.with_columns(
        pl.when(empty).then(pl.lit("empty_text")).otherwise(pl.lit(None, dtype=pl.String())).alias(schema.DROP),
        pl.Series(schema.ERROR, errors, dtype=pl.String()),
    )
