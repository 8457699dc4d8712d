"""Planted contamination: copy evaluation spans into clean documents, to measure a decontaminator.

Two kinds of plant per item: the item's text verbatim, and an ``n``-word span of it lightly
edited (case changed, punctuation added or removed, one word replaced). A decontaminator
should find both; the clean documents it drops are its false drops.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass

_WORD = re.compile(r"\S+")
_HAS_WORD = re.compile(r"\w")
_SUBSTITUTES = ("seven", "Maria", "blue", "twelve", "market", "quickly", "Tom", "nine")


@dataclass(frozen=True)
class Plant:
    doc: int  # index of the host document
    item: int  # index of the evaluation item
    kind: str  # "exact" or "edited"


def light_edit(span: str, rng: random.Random) -> str:
    """Change case and punctuation, and replace one word (not the first or last)."""
    words = span.split()
    wordy = [i for i, w in enumerate(words) if _HAS_WORD.search(w)]
    if len(wordy) >= 3:
        words[rng.choice(wordy[1:-1])] = rng.choice(_SUBSTITUTES)
    out = " ".join(words)
    out = out.upper() if rng.random() < 0.5 else out.lower()
    return out.replace(", ", " ").replace(". ", " . ") + rng.choice(("!", "?", ";", ""))


def edited_span(item: str, n: int, rng: random.Random) -> str | None:
    """A lightly edited window of ``item`` holding ``n`` words (None when the item is shorter).

    Words are the whitespace tokens with a letter or digit; a token of punctuation only
    (``+``, ``.``) inside the window is kept but does not count.
    """
    tokens = _WORD.findall(item)
    wordy = [i for i, t in enumerate(tokens) if _HAS_WORD.search(t)]
    if len(wordy) < n:
        return None
    start = rng.randrange(0, len(wordy) - n + 1)
    return light_edit(" ".join(tokens[wordy[start] : wordy[start + n - 1] + 1]), rng)


def plant(docs: Sequence[str], items: Sequence[str], n: int = 13, *, seed: int = 0) -> tuple[list[str], list[Plant]]:
    """Copies of ``docs`` with every item planted twice (verbatim, and an edited ``n``-word span) at random places.

    Each plant goes into its own host document (hosts are drawn without replacement, so
    ``len(docs)`` must be at least twice the items); the rest stay clean.
    """
    rng = random.Random(seed)
    out = list(docs)
    plants: list[Plant] = []
    jobs = [(i, "exact", items[i]) for i in range(len(items))]
    for i, item in enumerate(items):
        span = edited_span(item, n, rng)
        if span is not None:
            jobs.append((i, "edited", span))
    if len(jobs) > len(docs):
        raise ValueError(f"{len(jobs)} plants need as many host documents; got {len(docs)}")
    hosts = rng.sample(range(len(docs)), len(jobs))
    for host, (i, kind, text) in zip(hosts, jobs, strict=True):
        paragraphs = out[host].split("\n\n")
        at = rng.randrange(0, len(paragraphs) + 1)
        out[host] = "\n\n".join([*paragraphs[:at], text, *paragraphs[at:]])
        plants.append(Plant(host, i, kind))
    return out, plants
