"""Source fixtures for the planner benchmark: real corpora from ../shared/data and generated cases.

Each :class:`Fixture` names its sources (locations under a scratch project, or files of
../shared/data), the goal a user would type, and explicit expectations a reviewer would
hold the proposal to. Generated sources are built from real text (WikiText articles, the
German and Spanish declarations, the standard library's code), each reproducing one way a
planner can misjudge its data: files in alphabetical order, Latin-1 bytes, mojibake,
unidentifiable text, long paragraphs, duplicates, personal data, code, and constraints.

Expectation keys (all optional):

* ``ops_present`` / ``ops_absent``: operators that must (not) appear in the spec;
* ``keep_share``: [low, high] bounds of the dry run's documents kept at the end over documents read;
* ``constraints``: kind -> the verdict expected (true: honoured, false: reported as not honoured);
* ``language_filter_within``: every language a language filter keeps is in this list;
* ``language_filter_max``: a language filter keeps at most this many languages;
* ``source_option``: field -> value the guessed source must have (``"!utf-8"``: anything but UTF-8);
* ``quarantined_max``: records quarantined in the dry run at most;
* ``dry_run_files_min``: files the dry run's sample read at least;
* ``whole_paragraphs``: every chunk the dry run read consists of whole paragraphs of the file.
"""

from __future__ import annotations

import json
import random
import re
import shutil
import sysconfig
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Fixture:
    name: str
    goal: str
    what: str
    expect: dict[str, Any]
    locations: list[str] = field(default_factory=list)  # filled by build()
    build: Callable[[Path, Path], list[str]] | None = None  # (scratch data dir, shared dir) -> locations
    shared: list[str] = field(default_factory=list)  # paths under ../shared/data used as they are
    paragraphs: list[str] = field(default_factory=list)  # whole_paragraphs: the file's paragraphs


# --- real text for the generated sources --------------------------------------------------------------


def wiki_paragraphs(shared: Path, n: int, min_chars: int = 200) -> list[str]:
    """English WikiText paragraphs (headings and short lines left out), de-tokenized a little."""
    out = []
    for line in (shared / "encyclopedia" / "wikitext2-valid.txt").read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if len(line) < min_chars or line.startswith("="):
            continue
        line = re.sub(r" @(.)@ ", r"\1", line).replace(" , ", ", ").replace(" . ", ". ").replace(" 's", "'s")
        out.append(line)
        if len(out) >= n:
            break
    return out


def udhr_paragraphs(shared: Path, code: str) -> list[str]:
    text = (shared / "multilingual" / "udhr" / f"{code}.txt").read_text(encoding="utf-8")
    return [ln.strip() for ln in text.splitlines() if len(ln.strip()) >= 80]


def _jsonl(path: Path, records: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")


def _wrap(text: str, width: int = 70) -> str:
    lines, line = [], ""
    for word in text.split():
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    return "\n".join([*lines, line])


# --- builders ---------------------------------------------------------------------------------------


def build_many_files(data: Path, shared: Path) -> list[str]:
    """234 files; the last 34 in alphabetical order are German: a first-200-files sample never sees them."""
    folder = data / "many_files"
    folder.mkdir(parents=True)
    english, german = wiki_paragraphs(shared, 200), udhr_paragraphs(shared, "deu")
    for i in range(234):
        text = english[i] if i < 200 else " ".join(german[(i - 200) * 2 : (i - 200) * 2 + 2])
        (folder / f"page_{i:03d}.txt").write_text(text + "\n", encoding="utf-8")
    return [str(folder)]


def build_latin1(data: Path, shared: Path) -> list[str]:
    folder = data / "latin1"
    folder.mkdir(parents=True)
    german = udhr_paragraphs(shared, "deu")
    for i in range(12):
        text = "\n\n".join(german[i * 3 : i * 3 + 3])
        (folder / f"brief_{i:02d}.txt").write_bytes(text.encode("latin-1", errors="replace"))
    return [str(folder)]


def build_mixed_language(data: Path, shared: Path) -> list[str]:
    rng = random.Random(1)
    docs = [(t, "en") for t in wiki_paragraphs(shared, 60)]
    docs += [(t, "de") for t in udhr_paragraphs(shared, "deu")[:40]]
    docs += [(t, "es") for t in udhr_paragraphs(shared, "spa")[:40]]
    rng.shuffle(docs)
    _jsonl(
        data / "mixed" / "mixed.jsonl",
        [{"text": t, "url": f"https://example.org/{lang}/{i}"} for i, (t, lang) in enumerate(docs)],
    )
    return [str(data / "mixed")]


def _duplicates(shared: Path) -> list[dict[str, Any]]:
    rng = random.Random(2)
    base = wiki_paragraphs(shared, 80)
    records = [{"text": t, "url": f"https://example.org/a/{i}"} for i, t in enumerate(base)]
    for i in range(40):  # exact copies
        records.append({"text": base[i], "url": f"https://mirror.example.org/a/{i}"})
    for i in range(40, 70):  # near copies: a few words changed
        words = base[i].split()
        for _ in range(2):
            words[rng.randrange(len(words))] = rng.choice(["the", "a", "its", "this"])
        records.append({"text": " ".join(words), "url": f"https://copy.example.org/a/{i}"})
    rng.shuffle(records)
    return records


def build_duplicates(data: Path, shared: Path) -> list[str]:
    _jsonl(data / "dups" / "dups.jsonl", _duplicates(shared))
    return [str(data / "dups")]


def build_keep_duplicates(data: Path, shared: Path) -> list[str]:
    _jsonl(data / "keepdups" / "dups.jsonl", _duplicates(shared))
    return [str(data / "keepdups")]


def build_pii(data: Path, shared: Path) -> list[str]:
    rng = random.Random(3)
    records = []
    for i, t in enumerate(wiki_paragraphs(shared, 80)):
        if i % 2 == 0:
            t += f" Contact the editor at editor{i}@example.com or call +1 415 555 01{i % 90:02d}."
        if i % 5 == 0:
            t += f" The archive server is at 93.184.{rng.randrange(1, 250)}.{rng.randrange(1, 250)}."
        records.append({"text": t, "url": f"https://example.org/p/{i}"})
    _jsonl(data / "pii" / "pii.jsonl", records)
    return [str(data / "pii")]


def build_code(data: Path, shared: Path) -> list[str]:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    folder = data / "code"
    for pkg in ("json", "email", "http", "urllib"):
        for f in sorted((stdlib / pkg).glob("*.py")):
            dest = folder / pkg / f.name
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(f, dest)
    return [str(folder)]


def build_mojibake(data: Path, shared: Path) -> list[str]:
    """UTF-8 text read back once as Latin-1 ("Ã©" for "é"): normalize_text@1 repairs it before the filters run."""
    records = [
        {"text": t.replace("e", "é").encode("utf-8").decode("latin-1"), "url": f"https://example.org/m/{i}"}
        for i, t in enumerate(wiki_paragraphs(shared, 80))
    ]
    _jsonl(data / "mojibake" / "m.jsonl", records)
    return [str(data / "mojibake")]


def build_noise(data: Path, shared: Path) -> list[str]:
    """English paragraphs and OCR-like noise that CLD2 places in some language with a low score."""
    rng = random.Random(4)
    syll = ["zx", "qv", "pl", "wr", "ty", "bn", "kj", "gh", "ok", "mm"]
    noise = [" ".join("".join(rng.choices(syll, k=3)) for _ in range(rng.randint(5, 12))) for _ in range(50)]
    records = [{"text": t} for t in wiki_paragraphs(shared, 70)] + [{"text": t} for t in noise]
    rng.shuffle(records)
    _jsonl(data / "noise" / "n.jsonl", records)
    return [str(data / "noise")]


def build_novel(data: Path, shared: Path, fixture: Fixture) -> list[str]:
    """One book-sized file of hard-wrapped paragraphs, many longer than the chunk size."""
    source = list(dict.fromkeys(wiki_paragraphs(shared, 2000, min_chars=400)))  # each once: a book does not repeat
    # paragraphs of three articles' paragraphs each: 1,500 to 7,000 characters, many past the 4,000-character chunk
    paras = [_wrap(" ".join(source[i : i + 3])) for i in range(0, len(source) - 2, 3)]
    text = "\n\n".join(paras)
    (data / "novel").mkdir(parents=True)
    (data / "novel" / "book.txt").write_text(text + "\n", encoding="utf-8")
    fixture.paragraphs = paras
    return [str(data / "novel")]


def fixtures() -> list[Fixture]:
    """The benchmark's fixtures, expectations chosen before any proposal was scored."""
    quality = ["gopher_quality@1", "gopher_repetition@1", "c4_quality@1", "fineweb_quality@1"]
    out = [
        Fixture(
            "web_crawl",
            "Clean English and German web text for pretraining.",
            "296 real web pages (WARC), de/en/fr",
            {
                "ops_present": ["extract_html@1", "language_filter@1"],
                "language_filter_within": ["de", "en"],
                "constraints": {"languages": True},
                "keep_share": [0.05, 0.9],
            },
            shared=["web/crawl-sample.warc.gz"],
        ),
        Fixture(
            "math",
            "Math word problems for training.",
            "GSM8K train, question + answer",
            {
                "ops_absent": ["gopher_quality@1", "c4_quality@1", "extract_html@1"],
                "keep_share": [0.9, 1.0],
                "source_option": {"text_field": ["question", "answer"]},
            },
            shared=["math/gsm8k-train.jsonl"],
        ),
        Fixture(
            "encyclopedia",
            "Encyclopedia articles for training.",
            "WikiText-2 validation",
            {"source_option": {"split": "wikitext"}, "ops_absent": ["extract_html@1"], "keep_share": [0.7, 1.0]},
            shared=["encyclopedia/wikitext2-valid.txt"],
        ),
        Fixture(
            "plays",
            "Plays and novels for a literature domain.",
            "tiny Shakespeare, one 1.1 MB file",
            {
                "source_option": {"split": "chunk"},
                "ops_absent": ["gopher_quality@1", "extract_html@1"],
                "keep_share": [0.9, 1.0],
            },
            shared=["literature/tinyshakespeare.txt"],
        ),
        Fixture(
            "speeches",
            "Presidential speeches for training.",
            "59 inaugural addresses, one per file",
            {"keep_share": [0.9, 1.0], "dry_run_files_min": 59, "ops_absent": ["extract_html@1"]},
            shared=["speeches/inaugural"],
        ),
        Fixture(
            "udhr_top10",
            "Declarations: keep the 10 most common languages.",
            "UDHR in 154 languages",
            {"ops_present": ["language_filter@1"], "language_filter_max": 10, "constraints": {"top_languages": True}},
            shared=["multilingual/udhr"],
        ),
        Fixture(
            "udhr_two",
            "Declarations in German and Spanish only.",
            "UDHR in 154 languages; 3 files are de/es",
            {"constraints": {"languages": False}, "keep_share": [0.0, 1.0]},
            shared=["multilingual/udhr"],
        ),
        Fixture(
            "many_files",
            "English text only.",
            "234 files; the last 34 alphabetically are German",
            {
                "ops_present": ["language_filter@1"],
                "language_filter_within": ["en"],
                "dry_run_files_min": 100,
                "constraints": {"languages": True},
                "keep_share": [0.7, 0.95],
            },
            build=build_many_files,
        ),
        Fixture(
            "latin1",
            "German letters for training.",
            "12 German text files in Latin-1",
            {"source_option": {"encoding": "!utf-8"}, "quarantined_max": 0, "keep_share": [0.8, 1.0]},
            build=build_latin1,
        ),
        Fixture(
            "mixed_language",
            "German and English web text.",
            "English, German and Spanish paragraphs in one JSONL",
            {
                "ops_present": ["language_filter@1"],
                "language_filter_within": ["de", "en"],
                "constraints": {"languages": True},
                "keep_share": [0.5, 0.85],
            },
            build=build_mixed_language,
        ),
        Fixture(
            "duplicates",
            "Web text for pretraining.",
            "80 articles, 40 exact and 30 near copies",
            {"ops_present": ["dedup_minhash@1"], "keep_share": [0.45, 0.8]},
            build=build_duplicates,
        ),
        Fixture(
            "pii",
            "Web text for pretraining.",
            "articles with e-mail addresses, phone numbers, IPs",
            {"ops_present": ["redact_pii@1"], "keep_share": [0.7, 1.0]},
            build=build_pii,
        ),
        Fixture(
            "code",
            "Python source code for a code domain.",
            "stdlib json, email, http, urllib packages",
            {"ops_absent": [*quality, "normalize_text@1", "language_filter@1"], "keep_share": [0.95, 1.0]},
            build=build_code,
        ),
        Fixture(
            "mojibake",
            "Clean web text.",
            "articles with mojibake (UTF-8 read as Latin-1)",
            {"ops_present": ["normalize_text@1", "gopher_quality@1"], "keep_share": [0.7, 1.0]},
            build=build_mojibake,
        ),
        Fixture(
            "noise",
            "English text.",
            "English paragraphs and 40% unidentifiable noise",
            {
                "ops_present": ["language_filter@1"],
                "language_filter_within": ["en"],
                "keep_share": [0.45, 0.7],
                "profile_languages_within": ["en"],
            },
            build=build_noise,
        ),
        Fixture(
            "novel",
            "A long novel for a literature domain.",
            "one book-sized file of long hard-wrapped paragraphs",
            {"source_option": {"split": "chunk"}, "whole_paragraphs": True, "keep_share": [0.9, 1.0]},
        ),
        Fixture(
            "keep_duplicates",
            "Web text. Keep duplicates; keep at least 95% of the documents.",
            "the duplicate-heavy articles, with constraints against dedup",
            {
                "ops_absent": ["dedup_minhash@1", "dedup_exact@1"],
                "constraints": {"no_dedup": True, "min_keep": True},
                "keep_share": [0.95, 1.0],
            },
            build=build_keep_duplicates,
        ),
    ]
    novel = next(f for f in out if f.name == "novel")
    novel.build = lambda data, shared, f=novel: build_novel(data, shared, f)
    return out


def materialize(fixture: Fixture, data: Path, shared: Path) -> list[str]:
    """The fixture's locations (absolute paths), writing generated sources under ``data``."""
    if fixture.shared:
        return [str((shared / p).resolve()) for p in fixture.shared]
    assert fixture.build is not None
    return fixture.build(data, shared)
