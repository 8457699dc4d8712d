"""Personal data redaction: ``redact_pii@1`` (e-mail addresses, IP addresses, phone numbers).

Replacements follow datatrove's ``PIIFormatter``: realistic stand-ins rather than tags such
as ``<EMAIL>``, so a model trained on the text does not learn a placeholder token, and by
default only *public* IP addresses are replaced (private, loopback and documentation
ranges are not personal data). A match equal to its replacement is left alone and not
counted, so running the step twice changes nothing.

How false positives are kept out:

* e-mail: a real domain with a letters-only top-level domain; "domains" ending in an image
  or asset extension (``logo@2x.png``, ``icon@3x.webp``) are not addresses, and in code rows
  (``content_type`` ``text/x-*``) the top-level domain must be a country code or a common
  one, since ``weights@inputs.shape`` there is a matrix product.
* IPv4: four octets 0-255 without leading zeros, not glued to letters, digits or dots
  (``v1.2.3.4``, ``1.2.3.4.5``), not announced as a version or a section number ("version",
  "release", "build", "section", "chapter", "RFC", "§", also in lists such as "sections
  8.2.4.44 and 8.2.4.45"), and validated with :mod:`ipaddress`.
* IPv6: validated with :mod:`ipaddress` and at least three non-empty groups, so slices
  (``a[1::2]``), times (``12:30:45``), MAC addresses and C++ scopes (``std::vector``) pass.
* phone: international numbers written with ``+`` (8-15 digits, E.164), and North American
  numbers with separators and valid area/exchange codes (``(415) 555-2671``,
  ``415-555-2671``, ``1-800-555-0199``). Bare digit runs (ids, prices), dates
  (``2023-12-05``, ``12/05/2023``) and version strings are not phone numbers.

Vectorized where possible: polars' native regex finds the rows that can hold a match
(usually a small share); only those rows go through Python's ``re`` (which has the
look-arounds the guards need) and the validators.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable

import polars as pl
from pydantic import Field

from corpus import schema
from corpus.ops.registry import OpConfig, register

PII_COLUMNS = ("pii_email", "pii_ip", "pii_phone")

EMAIL = re.compile(
    r"(?<![\w.+\-])[A-Za-z0-9!#$%&'*+/=?^_`{|}~\-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~\-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}(?![\w\-@])"
)
_ASSET_TLDS = frozenset({"png", "jpg", "jpeg", "gif", "svg", "webp", "ico", "bmp", "tif", "tiff", "avif", "css", "js"})
# in code, ``a@b.shape`` is a matrix product: there an address needs a country code or a common TLD
_CODE_TLDS = frozenset(
    [
        "com",
        "org",
        "net",
        "edu",
        "gov",
        "mil",
        "int",
        "info",
        "biz",
        "name",
        "pro",
        "io",
        "dev",
        "app",
        "ai",
        "co",
        "me",
        "tv",
        "cloud",
        "tech",
        "online",
        "site",
        "xyz",
        "email",
        "mail",
        "museum",
        "coop",
        "aero",
        "jobs",
        "mobi",
        "travel",
    ]
)

_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
IPV4 = re.compile(rf"(?<![\w.])(?:{_OCTET}\.){{3}}{_OCTET}(?!\w|\.\d)")
# "version 1.2.3.4", "sections 8.2.4.44 and 8.2.4.45", "§ 1.2.3.4": numbering, not addresses
_NUMBERING_BEFORE = re.compile(
    r"(?i)(?:\b(?:versions?|ver\.?|v|release|build|sections?|secs?\.|chapters?|clauses?|paragraphs?|rfc|figures?"
    r"|figs?\.|tables?|steps?|items?)|§)[\s\d.,;:#()\"'\-]*(?:\b(?:and|or|to|through)\s*)?$"
)
IPV6 = re.compile(r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{1,4}|(?:\d{1,3}\.){3}\d{1,3})?(?![\w:])")

PHONE = re.compile(
    r"(?<![\w+/.\-])(?:"
    r"(?P<intl>\+[1-9][\d ().\-]{5,22}\d)"  # E.164: country codes never start with 0
    r"|(?P<nanp>(?:1[ .\-])?(?:\(\d{3}\)[ ]?\d{3}[ .\-]\d{4}|\d{3}(?P<sep>[.\-])\d{3}(?P=sep)\d{4}))"
    r")(?![\w\-]|[.,]\d)"
)

_EMAIL_HINT = "@"
_IPV4_HINT = r"\d\.\d{1,3}\.\d{1,3}\.\d"
_IPV6_HINT = r"[0-9A-Fa-f]*:[0-9A-Fa-f]*:"
_PHONE_HINT = r"\+\d|\d{3}[ .\-)]{1,2}\d{3}[ .\-]\d{4}"


class RedactPiiConfig(OpConfig):
    emails: bool = Field(True, description="replace e-mail addresses")
    ips: bool = Field(True, description="replace IPv4 and IPv6 addresses")
    phones: bool = Field(True, description="replace phone numbers")
    only_public_ips: bool = Field(
        True, description="replace only public IP addresses (not private, loopback, documentation)"
    )
    email_replacement: str = Field("email@example.com", min_length=1, max_length=200)
    ipv4_replacement: str = Field("22.214.171.124", min_length=1, max_length=200)
    ipv6_replacement: str = Field("2001:db8::1", min_length=1, max_length=200)
    phone_replacement: str = Field("202-555-0100", min_length=1, max_length=200)


def _valid_email(match: re.Match[str], is_code: bool) -> bool:
    tld = match.group(0).rsplit(".", 1)[-1].lower()
    if tld in _ASSET_TLDS:
        return False
    return not is_code or len(tld) == 2 or tld in _CODE_TLDS


def _valid_ipv4(match: re.Match[str], text: str, public_only: bool) -> bool:
    if _NUMBERING_BEFORE.search(text, max(0, match.start() - 40), match.start()):
        return False
    ip = ipaddress.IPv4Address(match.group(0))
    return ip.is_global or not public_only


def _valid_ipv6(match: re.Match[str], public_only: bool) -> bool:
    candidate = match.group(0)
    if sum(1 for g in candidate.split(":") if g) < 3:
        return False
    try:
        ip = ipaddress.IPv6Address(candidate)
    except ValueError:
        return False
    return ip.is_global or not public_only


def _valid_phone(match: re.Match[str]) -> bool:
    if match.group("intl"):
        number = match.group("intl")
        digits = sum(c.isdigit() for c in number)
        groups = re.findall(r"\d+", number)
        if not 8 <= digits <= 15 or number.count("(") != number.count(")"):
            return False
        return not (re.search(r"[ ().\-]{3,}", number) or sum(len(g) < 2 for g in groups[1:]) > 1)
    digits = re.sub(r"\D", "", match.group("nanp"))[-10:]
    return digits[0] in "23456789" and digits[3] in "23456789"


def _substitute(
    pattern: re.Pattern[str], text: str, replacement: str, valid: Callable[[re.Match[str]], bool]
) -> tuple[str, int]:
    count = 0

    def replace(match: re.Match[str]) -> str:
        nonlocal count
        if match.group(0) == replacement or not valid(match):
            return match.group(0)
        count += 1
        return replacement

    return pattern.sub(replace, text), count


def redact(text: str, config: RedactPiiConfig, is_code: bool = False) -> tuple[str, int, int, int]:
    """(redacted text, e-mails, IP addresses, phone numbers replaced) for one text (``is_code``: source code)."""
    emails = ips = phones = 0
    if config.emails and "@" in text:
        text, emails = _substitute(EMAIL, text, config.email_replacement, lambda m: _valid_email(m, is_code))
    if config.ips:
        current = text
        text, n4 = _substitute(
            IPV4, text, config.ipv4_replacement, lambda m: _valid_ipv4(m, current, config.only_public_ips)
        )
        text, n6 = _substitute(IPV6, text, config.ipv6_replacement, lambda m: _valid_ipv6(m, config.only_public_ips))
        ips = n4 + n6
    if config.phones:
        text, phones = _substitute(PHONE, text, config.phone_replacement, _valid_phone)
    return text, emails, ips, phones


def _candidates(texts: pl.Series, config: RedactPiiConfig) -> list[int]:
    """Rows that may hold something to redact, found with polars' native regex."""
    mask = pl.Series([False] * len(texts))
    if config.emails:
        mask = mask | texts.str.contains(_EMAIL_HINT, literal=True)
    if config.ips:
        mask = mask | texts.str.contains(_IPV4_HINT) | texts.str.contains(_IPV6_HINT)
    if config.phones:
        mask = mask | texts.str.contains(_PHONE_HINT)
    return mask.fill_null(False).arg_true().to_list()


def redaction_counts(out: pl.DataFrame, config: RedactPiiConfig) -> dict[str, int]:
    """The stage figures of one redacted batch: replacements made per kind (pii_email, pii_ip, pii_phone)."""
    return {col: int(out[col].sum() or 0) for col in PII_COLUMNS if col in out.columns}


@register(
    "redact_pii",
    1,
    "map",
    RedactPiiConfig,
    adds_columns=PII_COLUMNS,
    tags=("pii",),
    stats=redaction_counts,
)
def redact_pii(batch: pl.DataFrame, config: RedactPiiConfig) -> pl.DataFrame:
    """Replace e-mail addresses, public IP addresses and phone numbers with fixed stand-ins (datatrove's replacements),
    guarding against version numbers, dates and code; counts per document go to pii_email, pii_ip and pii_phone.

    Replacement strings and which kinds to redact are configurable.
    """
    texts = batch[schema.TEXT]
    rows = _candidates(texts, config)
    counts = {c: [0] * batch.height for c in PII_COLUMNS}
    if rows:
        values = texts.to_list()
        ctypes = batch[schema.CONTENT_TYPE].to_list() if schema.CONTENT_TYPE in batch.columns else [None] * batch.height
        for i in rows:
            is_code = bool(ctypes[i]) and ctypes[i].startswith("text/x-")
            values[i], counts["pii_email"][i], counts["pii_ip"][i], counts["pii_phone"][i] = redact(
                values[i], config, is_code
            )
        texts = pl.Series(schema.TEXT, values, dtype=pl.String())
    return batch.with_columns(
        texts.alias(schema.TEXT),
        *(pl.Series(name, values, dtype=pl.Int32()) for name, values in counts.items()),
    )
