"""The word splitter's Rust regex (:func:`token_pattern`): spaCy's English prefix, suffix and infix rules
as one pattern for polars ``str.extract_all``, and the patterns that find numbers with a unit."""

from __future__ import annotations

import re
from functools import cache

from corpus.ops._word_tables import (
    _APOSTROPHES,
    _CONDITIONAL,
    _CURRENCY,
    _DATATROVE_PUNCTUATION,
    _EDGE,
    _HYPHENS,
    _INNER,
    _QUOTES,
    _UNITS,
    TERMINAL_PUNCTUATION,
)


def char_class(chars: str, *, negate: bool = False, extra: str = "") -> str:
    """A Rust-regex character class of ``chars`` (each escaped), plus raw ``extra`` items."""
    body = "".join(f"\\x{{{ord(c):X}}}" for c in sorted(set(chars))) + extra
    return f"[{'^' if negate else ''}{body}]"


NON_SYMBOL_CHAR = char_class(_DATATROVE_PUNCTUATION + "".join(TERMINAL_PUNCTUATION), negate=True)
"""A character outside ``PUNCTUATION_SET``: a word containing one is not a symbol word."""


# spaCy splits these symbols off everywhere (its LIST_ICONS, roughly \p{So}); a few ranges
# cover the ones met in text (©, ®, °, ™, arrows, box drawing, dingbats, emoji) while keeping
# the automaton small, which is what keeps the regex fast.
_ICONS = r"\x{A6}\x{A9}\x{AE}\x{B0}\x{2100}-\x{214F}\x{2190}-\x{2BFF}\x{FFFC}\x{FFFD}\x{1F000}-\x{1FAFF}"
_PLAIN = char_class(_EDGE + _CONDITIONAL + _APOSTROPHES, negate=True, extra=r"\s" + _ICONS)
_JOINER = char_class("".join(ch for ch in _EDGE + _CONDITIONAL + _APOSTROPHES if ch not in ".…"))


def _plain_minus(extra: str) -> str:
    """``_PLAIN`` without the classes in ``extra`` (Rust class subtraction)."""
    return f"[{_PLAIN}--[{extra}]]"


def _literal(text: str) -> str:
    return "".join(c if c.isalnum() and c.isascii() else f"\\x{{{ord(c):X}}}" for c in text)


def _word_pattern() -> str:
    """One word: a run of plain characters and the joints spaCy's infix rules leave alone.

    spaCy strips prefixes and suffixes from the ends of a whitespace-separated chunk and
    splits the rest at infixes (a hyphen between letters, a period between a lower-case and
    an upper-case letter, a comma between letters, ``:<>=/`` before a letter, ``+-*^``
    between digits, ellipses). Everything else inside stays one token, so a word here is a
    run of plain characters joined by the joints that no infix rule matches. Most rules are
    keyed on the next character only, which keeps the automaton small (and the regex fast).
    """
    hy = char_class(_HYPHENS)
    quote = char_class(_QUOTES)
    not_hyphen = f"[{_JOINER}--{hy}]"
    not_quote = f"[{_JOINER}--{quote}]"
    run = f"(?:{_JOINER}|\\.{_JOINER})*"  # joiners, with single periods between them
    operators = char_class("+*^")
    with_previous = [
        r"\p{L}" + hy + "+[0-9]",  # Covid-19 (a hyphen before a digit splits only after a digit)
        r"\p{L}" + operators + "+[0-9]",  # x+20, m*4 (so does + * ^)
        r"\p{Lu}\.\p{Lu}",  # U.S, D.Live (a period splits only lower.Upper)
        r"\p{Ll}\p{Lu}\.(?-u:\B)",  # PhD. (a final period stays after one capital)
        _plain_minus(r"\p{L}0-9\x{B2}") + r"\.(?-u:\B)",  # cm³. (and after what is no letter or digit)
    ]
    # the plain character after a joint, where the rules above may apply to it: (x-6, *X.
    after_joint = f"(?:\\p{{L}}(?:{hy}|{operators})+[0-9]|\\p{{Lu}}\\.(?-u:\\B)|{_PLAIN})"
    items = [
        *with_previous,
        r"\." + _plain_minus(r"\p{Lu}"),  # 3.14, e.g, example.com; end.The splits
        "(?:,|" + char_class(":<>=/") + "+)" + _plain_minus(r"\p{L}"),  # 1,000 10:30 48/2=24>>24
        operators + "+" + after_joint.replace(_PLAIN + ")", _plain_minus("0-9") + ")"),  # a+b, 2*x-1; 2+2 splits
        hy + "+" + _plain_minus(r"\p{L}0-9"),  # @-@
        char_class(_APOSTROPHES) + "(?:" + _plain_minus("sS") + "|[sS]" + _PLAIN + ")",  # don't, l'homme; 's splits
        # a run of two or more joiners between plain characters stays, as does a run of one
        # that is no infix (f(x, yu´un): the infix rules want a letter or digit on both sides
        f"(?:{not_hyphen}(?:(?:{_JOINER}|\\.{_JOINER})+\\.?|\\.)|{hy}{not_hyphen}{run}\\.?|\\.{not_quote}{run}\\.?)"
        + after_joint,
        char_class(_INNER) + "+" + after_joint,
        # a final run of joiners stays when it ends with a character no suffix rule strips
        run + char_class("-~=/") + r"(?-u:\B)",
        char_class(_CURRENCY) + r"+\.(?-u:\B)",  # 350$. (no rule splits a period after a currency sign)
        _PLAIN,
    ]
    first = [
        *with_previous,
        _PLAIN,
        r"(?-u:\B)" + char_class("-~/") + "+",  # -5, --x, /usr: hyphens and slashes are no prefixes
        r"(?-u:\B)\.(?:" + _PLAIN + "|/)",  # .5, ./run.sh
        r"(?-u:\B)\+[0-9]",  # +49: a plus before a digit is no prefix
    ]
    return f"(?:{'|'.join(first)})(?:{'|'.join(items)})*"


@cache
def token_pattern() -> str:
    """The tokenizer as one regex; ``str.extract_all`` with it yields the words in order.

    spaCy's special cases that contain punctuation (``Mr.``, ``e.g.``, ``:)``) are not in it:
    they are merged afterwards (see :func:`split_words`), which keeps the regex small.
    """
    url_body = char_class(_EDGE + "." + _APOSTROPHES, negate=True, extra=r"\s" + _ICONS)
    parts = [
        # URLs stay whole; the trailing punctuation spaCy strips first is left out
        r"(?:[A-Za-z][A-Za-z0-9+.\-]*://|www\.)\S*" + url_body,
        r"\.\.+",
        char_class(_HYPHENS) + "{2,}",  # -- between words
        char_class(_APOSTROPHES) + r"[sS](?-u:\b)",  # the possessive / "is" suffix
        r"(?:\p{Lu}\.)+(?-u:\B)",  # initials: J. U.S.A. (a final period after one capital stays)
        _word_pattern(),
        r"\S",
    ]
    return "|".join(f"(?:{p})" for p in parts)


_UNIT_TOKEN = re.compile(r"^(.*?[0-9])(" + "|".join(sorted(map(re.escape, _UNITS), key=len, reverse=True)) + r")$")
_UNIT_IN_TEXT = (
    r"[0-9](?:" + "|".join(_literal(u) for u in sorted(_UNITS, key=len, reverse=True)) + r")(?:$|[^\p{L}\p{N}])"
)
