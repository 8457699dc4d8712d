"""Reading a spec's data into the model: bounded first, then structure-validated, errors by field.

:func:`check_bounds` refuses data that would be costly to walk (a YAML alias bomb, deep nesting,
a graph that contains itself) before anything else looks at it; :func:`parse_spec` turns pydantic's
errors into one :class:`~corpus.spec_errors.SpecIssue` per field, in the spec's own notation.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from pydantic import ValidationError

from corpus.spec_errors import SpecError, SpecIssue
from corpus.spec_model import PipelineSpec

MAX_VALUES = 100_000  # values in a spec, YAML aliases expanded: far above any real spec, far below a bomb
MAX_DEPTH = 32  # nesting of a spec's mappings and lists


def check_bounds(data: Any, where: str = "pipeline spec") -> None:
    """Raise SpecError when ``data`` holds more than MAX_VALUES values (shared parts counted each time they
    are reached, as YAML aliases expand), nests deeper than MAX_DEPTH or contains itself.

    Linear in the distinct objects, so a YAML alias bomb is refused before anything walks it.
    """
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(node: Any, depth: int, at: str) -> int:
        if isinstance(node, dict):
            children: Iterable[tuple[str, Any]] = ((f"{at}.{k}" if at else str(k), v) for k, v in node.items())
            extra = len(node)  # the keys
        elif isinstance(node, list | tuple):
            children = ((f"{at}[{i}]", v) for i, v in enumerate(node))
            extra = 0
        else:
            return 1 + (len(node) // 1000 if isinstance(node, str) else 0)
        key = id(node)
        if key in sizes:
            return sizes[key]
        field = at or "(root)"
        if key in active:
            raise SpecError([SpecIssue(field, "contains itself (a recursive YAML alias); write the values out")], where)
        if depth > MAX_DEPTH:
            raise SpecError([SpecIssue(field, f"nested more than {MAX_DEPTH} levels deep")], where)
        active.add(key)
        total = 1 + extra
        for child_at, child in children:
            total += size(child, depth + 1, child_at)
            if total > MAX_VALUES:
                raise SpecError(
                    [
                        SpecIssue(
                            field,
                            f"holds more than {MAX_VALUES:,} values once YAML aliases are expanded; "
                            "a pipeline spec is far smaller (write it out without aliases)",
                        )
                    ],
                    where,
                )
        active.discard(key)
        sizes[key] = total
        return total

    size(data, 0, "")


def parse_spec(data: Any, where: str = "pipeline spec") -> PipelineSpec:
    """Structure-validate ``data``; raises SpecError naming each bad field."""
    if not isinstance(data, dict):
        raise SpecError([SpecIssue("(root)", f"expected a mapping, got {type(data).__name__}")], where)
    check_bounds(data, where)
    try:
        return PipelineSpec.model_validate(data)
    except ValidationError as exc:
        # one issue per field: the members of a union type (text_field: a string or a list) each report on it
        by_field: dict[str, list[str]] = {}
        for e in exc.errors():
            messages = by_field.setdefault(_loc(e["loc"], user_key_last=e["type"] == "extra_forbidden"), [])
            if _msg(e) not in messages:
                messages.append(_msg(e))
        raise SpecError([SpecIssue(f, " / ".join(m)) for f, m in by_field.items()], where) from None


# how pydantic names the member of a union type in an error location: list[...], function-after[...], literal[...]
_UNION_MEMBER = re.compile(r"^[a-z][\w\-]*\[.*\]$", re.S)


def _loc(loc: tuple[Any, ...], *, user_key_last: bool = False) -> str:
    """A pydantic error location as a spec field (``sources[0].text_field``), without union member names.

    The last part of an unknown-field error is the key the spec wrote, kept whatever it looks like.
    """
    out = ""
    for i, part in enumerate(loc):
        if isinstance(part, int):
            out += f"[{part}]"
        elif _UNION_MEMBER.match(str(part)) and not (user_key_last and i == len(loc) - 1):
            continue
        else:
            out += ("." if out else "") + str(part)
    return out or "(root)"


def _msg(err: dict[str, Any]) -> str:
    msg = err["msg"]
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    if err["type"] == "extra_forbidden":
        msg = "unknown field (not part of the spec; check the spelling)"
    return msg
