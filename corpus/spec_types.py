"""The allowed types of a spec's strings: what each field may hold, never what it may not.

A spec holds names, operator references, field names, locations, globs, short words and prose.
Nothing in a spec is executed, so no field is searched for "code": each string field has a type
that says which characters and shapes it accepts, and prose is free text (bounded, no control
characters). Every refusal says what the field takes instead.

Template syntax (``{{ }}``, ``{% %}``, ``${ }``) is refused in every string: specs are never
templated, and Dagster's loader would otherwise render it (see :mod:`corpus.specfile`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Annotated, Any

from pydantic import AfterValidator

NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,47}$")
OP_REF_RE = re.compile(r"^[a-z][a-z0-9_]{0,47}@[1-9][0-9]{0,3}$")
# a record's field (jsonl key, parquet column): letters, digits, '_', '-', '.', ':', '/', '@', '#', '+', '$'
# and inner spaces
FIELD_RE = re.compile(r"^[\w@#$][\w.:/\-@#+$ ]{0,127}$")
GLOB_RE = re.compile(r"^[\w.\-/*?\[\]!+=@, ]{1,256}$")
OWNER_RE = re.compile(r"^(team:[A-Za-z0-9_.\-]{1,64}|[A-Za-z0-9._%+\-]{1,64}@[A-Za-z0-9\-]+(\.[A-Za-z0-9\-]+)+)$")
TEMPLATE_RE = re.compile(r"\{\{|\{%|%\}|\}\}|\$\{")
# control characters other than tab, line feed and carriage return (and DEL, the C1 set, and the bidirectional
# overrides that make rendered text read differently from what it holds)
CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
MARKUP_RE = re.compile(r"</?[A-Za-z][\w\-]*(?:\s[^<>]*)?/?>|<!--|<!\[CDATA\[|\]\(javascript:", re.I)
MAX_PROSE = 4000  # characters of a description
MAX_TEXT = 1000  # characters of any other free-text value (a replacement, a label)
MAX_LOCATION = 1024


def template_problem(value: str) -> str | None:
    """Why ``value`` may not stand in a spec as template syntax, or None."""
    m = TEMPLATE_RE.search(value)
    if m:
        return (
            f"looks like template syntax ({m.group(0)!r}); specs are never templated: write the value itself "
            "(secrets come from the environment at run time)"
        )
    return None


def text_problem(value: str, limit: int = MAX_TEXT) -> str | None:
    """Free text: at most ``limit`` characters, no control characters, no template syntax. None when fine."""
    if len(value) > limit:
        return f"too long ({len(value):,} characters, at most {limit:,}); shorten it"
    m = CONTROL_RE.search(value)
    if m:
        return f"holds control characters ({m.group(0)!r}); use plain text (tabs and line breaks are fine)"
    return template_problem(value)


def strings_problem(value: Any, limit: int = MAX_PROSE) -> str | None:
    """The first string in ``value`` (a string, or lists, tuples and mappings of them, keys included) that is
    not plain text (:func:`text_problem`), as ``[i].key: why``; None when all are. Models are their own."""
    stack: list[tuple[str, Any]] = [("", value)]
    while stack:
        at, node = stack.pop()
        if isinstance(node, str):
            problem = text_problem(node, limit)
            if problem:
                return f"{at.lstrip('.')}: {problem}" if at else problem
        elif isinstance(node, dict):
            for k, v in node.items():
                stack.append((f"{at}.{k}", k))
                stack.append((f"{at}.{k}", v))
        elif isinstance(node, list | tuple | set | frozenset):
            stack.extend((f"{at}[{i}]", v) for i, v in enumerate(node))
    return None


def _raise(problem: str | None, value: str) -> str:
    if problem:
        raise ValueError(problem)
    return value


def check_free_text(value: str) -> str:
    """A free-text value such as a replacement or a label (see :func:`text_problem`)."""
    return _raise(text_problem(value), value)


def check_prose(value: str) -> str:
    """A description or goal: free text up to MAX_PROSE characters, without HTML markup (the Dagster UI
    and pull requests render it as markdown; backticks, dollars, quotes and shell words are all fine)."""
    _raise(text_problem(value, MAX_PROSE), value)
    m = MARKUP_RE.search(value)
    if m:
        raise ValueError(
            f"looks like HTML markup ({m.group(0)[:40]!r}); a description is plain prose: write it without tags"
        )
    return value


def check_name(value: str) -> str:
    if not NAME_RE.match(value):
        raise ValueError(
            f"{value[:80]!r} is not a valid name: use lowercase letters, digits and '_', starting with a letter "
            "(at most 48)"
        )
    return value


def check_op_ref(value: str, known: Iterable[str] = ()) -> str:
    """An operator reference ``name@N``; whether it exists is checked against the registry in validation.
    ``known`` (the registry's keys) gives the right version in the message for a name written without one."""
    if OP_REF_RE.match(value):
        return value
    versions = [k for k in known if k.split("@")[0] == value] if NAME_RE.match(value) else []
    hint = f" (operators are named with their version, e.g. {versions[-1]!r})" if versions else ""
    raise ValueError(
        f"{value[:80]!r} is not an operator reference{hint}: write name@version (list them with `python -m corpus.ops`)"
    )


def check_field_name(value: str) -> str:
    if not FIELD_RE.match(value) or value != value.strip():
        raise ValueError(
            f"{value[:80]!r} is not a record field name: use letters, digits, '_', '-', '.', ':', '/', '@', '#', "
            "'+', '$' and inner spaces (at most 128)"
        )
    return value


def check_glob(value: str) -> str:
    """A file pattern under a source's location: ``*``, ``**``, ``?``, ``[...]``; relative, no ``..``."""
    if not GLOB_RE.match(value):
        bad = sorted({c for c in value if not GLOB_RE.match(c) and c not in "*?[]!"})[:8]
        shown = f" ({', '.join(repr(c) for c in bad)})" if bad else ""
        raise ValueError(
            f"{value[:80]!r} is not a file glob{shown}: use letters, digits, '_', '-', '.', '/', '*', '**', '?', "
            "'[...]', '!', '+', '=', '@', ',' and spaces (at most 256), e.g. **/*.jsonl*"
        )
    if value.startswith("/") or ".." in value.split("/"):
        raise ValueError(
            f"{value[:80]!r} leaves the source's location; a glob is relative to it and has no '..' (e.g. **/*.txt)"
        )
    return value


def check_location(value: str) -> str:
    """The shape of a location; where it may point is the PathPolicy's decision in validation."""
    if not value.strip():
        raise ValueError("empty location: write a path relative to the project (e.g. data/sources/web)")
    return _raise(text_problem(value, MAX_LOCATION), value)


def check_owner(value: str) -> str:
    if not OWNER_RE.match(value):
        raise ValueError(f"{value[:80]!r} is not an owner: use an e-mail address or team:<name>")
    return value


def check_word(value: str) -> str:
    """One word (a stop word, a label): 1-64 characters, no whitespace or control characters."""
    if not value or len(value) > 64 or any(c.isspace() for c in value) or CONTROL_RE.search(value):
        raise ValueError(f"{value[:80]!r} is not a word: 1 to 64 characters without spaces or control characters")
    return _raise(template_problem(value), value)


Name = Annotated[str, AfterValidator(check_name)]
FieldName = Annotated[str, AfterValidator(check_field_name)]
Glob = Annotated[str, AfterValidator(check_glob)]
Location = Annotated[str, AfterValidator(check_location)]
Owner = Annotated[str, AfterValidator(check_owner)]
Prose = Annotated[str, AfterValidator(check_prose)]
FreeText = Annotated[str, AfterValidator(check_free_text)]
Word = Annotated[str, AfterValidator(check_word)]
