"""Keep secrets out of everything the agent writes: proposals, commits, logs, pull requests.

Two nets: the values of the secret environment variables that are set (whatever they look
like), and patterns of well-known key and token formats (whoever put them there: a
document sample quoted in a rationale, a model's reply). Both are replaced by
``[redacted]``, which is also a valid string in a spec.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable

REDACTED = "[redacted]"
SECRET_ENV_VARS = (
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_AUTH_TOKEN",
    "GITHUB_TOKEN",
    "GH_TOKEN",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
)
MIN_SECRET_CHARS = 12  # real keys are far longer; a short value would redact ordinary words

_PATTERNS = [
    re.compile(r"sk-ant-[A-Za-z0-9_\-]{8,}"),  # Anthropic API keys
    re.compile(r"sk-[A-Za-z0-9]{20,}"),  # other sk- style API keys
    re.compile(r"\bgh[pousr]_[A-Za-z0-9]{20,}\b"),  # GitHub tokens
    re.compile(r"\bgithub_pat_[A-Za-z0-9_]{20,}\b"),
    re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b"),  # AWS access key ids
    re.compile(r"(?i)\b(?:bearer|token)\s+[A-Za-z0-9._\-]{16,}"),
    re.compile(r"(?i)(?:api[_-]?key|secret|password|passwd|token)\s*[:=]\s*['\"]?[A-Za-z0-9._\-/+]{12,}"),
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----"),
]


def secret_values(extra: Iterable[str] = ()) -> list[str]:
    values = [os.environ.get(name, "") for name in SECRET_ENV_VARS]
    values += list(extra)
    return sorted({v for v in values if v and len(v) >= MIN_SECRET_CHARS}, key=len, reverse=True)


def scrub(text: str, extra: Iterable[str] = ()) -> str:
    """``text`` with every secret value and key-like string replaced by ``[redacted]``."""
    if not text:
        return text
    for value in secret_values(extra):
        text = text.replace(value, REDACTED)
    for pattern in _PATTERNS:
        text = pattern.sub(REDACTED, text)
    return text


def contains_secret(text: str, extra: Iterable[str] = ()) -> bool:
    return scrub(text, extra) != text
