"""Text cut into chunks keeps paragraphs whole: a novel's long paragraphs are not cut in the middle."""

from __future__ import annotations

import random
from pathlib import Path

import pyarrow.fs as pafs

from corpus.readers import read_source
from corpus.spec import SourceSpec

WORDS = (
    "the",
    "house",
    "stood",
    "on",
    "a",
    "hill",
    "above",
    "river",
    "and",
    "she",
    "walked",
    "slowly",
    "towards",
    "old",
    "gate",
    "where",
    "her",
    "father",
    "had",
    "waited",
    "many",
    "years",
    "before",
)


def _paragraph(rng: random.Random, chars: int) -> str:
    """A paragraph of about ``chars`` characters, hard-wrapped at 70 like a plain-text book."""
    sentences, total = [], 0
    while total < chars:
        s = " ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 20))).capitalize() + "."
        sentences.append(s)
        total += len(s) + 1
    text, lines, line = " ".join(sentences), [], ""
    for word in text.split():
        if len(line) + len(word) + 1 > 70:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    return "\n".join([*lines, line])


def _read(path: Path, chunk_chars: int) -> list[str]:
    src = SourceSpec(name="novel", location=str(path), format="text", split="chunk", chunk_chars=chunk_chars)
    return [t for b in read_source(src, pafs.LocalFileSystem(), str(path)) for t in b.docs["text"].to_list()]


def test_long_paragraphs_stay_whole(tmp_path: Path) -> None:
    rng = random.Random(2)
    # paragraphs between half and one and a half times chunk_chars: an earlier reader cut every longer one at a line end
    paragraphs = [_paragraph(rng, rng.randint(500, 1500)) for _ in range(40)]
    path = tmp_path / "novel.txt"
    path.write_text("\n\n".join(paragraphs) + "\n", encoding="utf-8")
    chunks = _read(path, 1000)
    pieces = [p for c in chunks for p in c.split("\n\n")]
    assert pieces == paragraphs  # every paragraph whole, in order
    assert max(len(c) for c in chunks) <= 2 * 1000 + 2


def test_a_paragraph_past_twice_the_size_is_cut_at_sentence_ends(tmp_path: Path) -> None:
    rng = random.Random(4)
    huge = _paragraph(rng, 5000)
    path = tmp_path / "novel.txt"
    path.write_text(huge + "\n", encoding="utf-8")
    chunks = _read(path, 1000)
    assert len(chunks) >= 5 and all(len(c) <= 1000 for c in chunks)
    assert all(c.rstrip().endswith(".") for c in chunks)  # cut where a sentence ends
    assert " ".join(" ".join(chunks).split()) == " ".join(huge.split())  # nothing lost
