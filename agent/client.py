"""The Anthropic client, built from the environment only.

The key is never a parameter, a config field or a spec value: the SDK reads
``ANTHROPIC_API_KEY`` (and ``ANTHROPIC_BASE_URL`` when set) from the environment itself.
"""

from __future__ import annotations

import os
from typing import Any

from agent.loop import AgentError


def has_api_key() -> bool:
    return bool(os.environ.get("ANTHROPIC_API_KEY"))


def anthropic_client(**kwargs: Any) -> Any:
    """An ``anthropic.Anthropic`` client; ``kwargs`` are transport options (timeouts, retries), never the key."""
    import anthropic

    if "api_key" in kwargs:
        raise AgentError("pass the API key through the ANTHROPIC_API_KEY environment variable, not as an argument")
    if not has_api_key():
        raise AgentError("ANTHROPIC_API_KEY is not set: export it to use Claude, or run with --planner offline")
    return anthropic.Anthropic(**kwargs)
