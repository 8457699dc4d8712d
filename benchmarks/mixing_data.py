"""Domain suites for the mixing benchmark, built from ../shared/data and the CPython stdlib.

Tokenizers: ``byte`` (UTF-8 bytes + one end-of-text id: vocabulary 257, no training, the
cheapest proxy input) or ``bpe`` (the platform's byte-level BPE at a given vocabulary).
Validation split: documents ranked by the platform's split hash (``corpus.tokenize``) are
held out until the domain has ``val_tokens`` validation tokens, never more than
``max_val_share`` of the domain (a small domain then gives its whole share).

Suites (each with its named target, chosen before any run):

* ``six``: math, encyclopedia, literature, speeches, multilingual, code; average loss.
* ``heldout``: trains on math, literature, code; the target weights those three and the
  encyclopedia domain, which is never trained on (RegMix's held-out target setting).
* ``noisy``: math, literature, speeches, code and ``junk``: half character-shuffled UDHR
  passages (noise), half exact copies of a few stdlib files (duplicates); the target is
  the average over the four clean domains.
"""

from __future__ import annotations

import json
import random
import re
import sysconfig
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from corpus.mixing.domain_tokens import DomainTokens
from corpus.mixing.target import Target
from corpus.schema import document_id
from corpus.tokenize import split_rank_key, tokenize_batch, train_bpe

BYTE_VOCAB = 257  # 256 byte values + end of text
Docs = list[tuple[str, str]]


@dataclass(frozen=True)
class Suite:
    name: str
    trained: list[str]
    target: Target
    held_out: list[str] = field(default_factory=list)

    @property
    def evaluated(self) -> list[str]:
        return [*self.trained, *self.held_out]


SUITES = {
    "six": Suite("six", ["math", "encyclopedia", "literature", "speeches", "multilingual", "code"], Target("average")),
    "heldout": Suite(
        "heldout",
        ["math", "literature", "code"],
        Target("weighted", {"math": 1.0, "literature": 1.0, "code": 1.0, "encyclopedia": 1.0}),
        ["encyclopedia"],
    ),
    "noisy": Suite(
        "noisy",
        ["math", "literature", "speeches", "code", "junk"],
        Target("weighted", {"math": 1.0, "literature": 1.0, "speeches": 1.0, "code": 1.0}),
    ),
}


def _cap(docs: Docs, max_chars: int) -> Docs:
    out, total = [], 0
    for name, text in docs:
        if total >= max_chars:
            break
        out.append((name, text))
        total += len(text)
    return out


def _passages(text: str, sep: str, size: int) -> list[str]:
    """Consecutive pieces of ``text`` of at least ``size`` characters, cut at ``sep``."""
    out, buf = [], ""
    for piece in text.split(sep):
        buf = f"{buf}{sep}{piece}" if buf else piece
        if len(buf) >= size:
            out.append(buf)
            buf = ""
    if buf.strip():
        out.append(buf)
    return out


def _stdlib_files() -> Docs:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    code = []
    for p in sorted(stdlib.glob("*.py")) + sorted(stdlib.glob("[a-z]*/*.py")):
        if "test" in p.parts[-2] or p.name.startswith("test"):
            continue
        try:
            code.append((f"stdlib:{p.relative_to(stdlib)}", p.read_text(encoding="utf-8")))
        except (UnicodeDecodeError, OSError):
            continue
    return code


def load_domains(data: Path, chars: int) -> dict[str, Docs]:
    """(provenance, text) documents per domain, about ``chars`` characters each."""
    math_docs = []
    with (data / "math" / "gsm8k-train.jsonl").open(encoding="utf-8") as f:
        for i, line in enumerate(f):
            row = json.loads(line)
            math_docs.append((f"gsm8k:{i}", f"Question: {row['question']}\nAnswer: {row['answer']}"))
    wiki_text = (data / "encyclopedia" / "wikitext2-valid.txt").read_text(encoding="utf-8")
    parts = re.split(r"^( = [^=].* = )$", wiki_text, flags=re.M)
    articles = [(f"wikitext:{i}", (parts[i] + parts[i + 1]).strip()) for i in range(1, len(parts) - 1, 2)]
    wiki = [(f"{name}:{j}", p) for name, text in articles for j, p in enumerate(_passages(text, "\n", 3000))]
    shakespeare = (data / "literature" / "tinyshakespeare.txt").read_text(encoding="utf-8")
    passages = [(f"shakespeare:{i}", p) for i, p in enumerate(_passages(shakespeare, "\n\n", 2000))]
    # errors="replace": 2005-Bush.txt carries one stray non-UTF-8 byte; passages so a split holds many
    speeches = [
        (f"inaugural:{p.name}:{i}", passage)
        for p in sorted((data / "speeches" / "inaugural").glob("*.txt"))
        for i, passage in enumerate(_passages(p.read_text(encoding="utf-8", errors="replace"), "\n", 3000))
    ]
    udhr = [
        (f"udhr:{p.name}:{i}", passage)
        for p in sorted((data / "multilingual" / "udhr").glob("*.txt"))
        for i, passage in enumerate(_passages(p.read_text(encoding="utf-8"), "\n", 1500))
    ]
    udhr.sort(key=lambda item: (int(item[0].rsplit(":", 1)[1]), item[0]))  # a character cap keeps every language
    # files cut into passages: a validation split of many pieces, not two whole modules
    code = [(f"{name}:{i}", p) for name, text in _stdlib_files() for i, p in enumerate(_passages(text, "\n\n", 3000))]
    rng = random.Random(0)
    noise = []
    for name, text in _cap(udhr[::-1], chars // 2):
        chars_ = list(text)
        rng.shuffle(chars_)
        noise.append((f"junk-noise:{name}", "".join(chars_)))
    dup_pool = _stdlib_files()[-3:]
    dups = [(f"junk-dup:{i}:{dup_pool[i % 3][0]}", dup_pool[i % 3][1] + f"\n# copy {i}\n") for i in range(10_000)]
    return {
        "math": _cap(math_docs, chars),
        "encyclopedia": _cap(wiki, chars),
        "literature": _cap(passages, chars),
        "speeches": _cap(speeches, chars),
        "multilingual": _cap(udhr, chars),
        "code": _cap(code, chars),
        "junk": noise + _cap(dups, chars // 2),
    }


def byte_tokens(texts: list[str]) -> list[np.ndarray]:
    return [
        np.append(np.frombuffer(t.encode("utf-8"), dtype=np.uint8).astype(np.uint16), np.uint16(256)) for t in texts
    ]


def build_domains(
    docs: dict[str, Docs], tokenizer: str, val_tokens: int, max_val_share: float = 0.25, vocab: int = 2048
) -> tuple[dict[str, DomainTokens], int, dict]:
    """Token streams with a validation split of ``val_tokens`` per domain; (domains, vocab size, info)."""
    if tokenizer == "byte":
        encode, vocab_size = byte_tokens, BYTE_VOCAB
    elif tokenizer == "bpe":
        tok = train_bpe([t for d in docs.values() for _, t in d[:500]], vocab)
        encode, vocab_size = (lambda texts: tokenize_batch(tok, texts)), tok.get_vocab_size()
    else:
        raise ValueError(f"tokenizer must be 'byte' or 'bpe', got {tokenizer!r}")
    domains, info = {}, {}
    for name, items in docs.items():
        ids = [document_id(name, prov, 0, text) for prov, text in items]
        arrays = encode([t for _, t in items])
        total = sum(len(a) for a in arrays)
        order = sorted(range(len(ids)), key=lambda i: (split_rank_key(ids[i]), ids[i]))
        splits, held = ["train"] * len(ids), 0
        for i in order:
            if held >= val_tokens or held + len(arrays[i]) > max_val_share * total:
                break
            splits[i] = "val"
            held += len(arrays[i])
        domains[name] = DomainTokens.from_arrays(name, ids, arrays, splits)
        idx = domains[name].index
        info[name] = {
            "docs": len(items),
            "chars": sum(len(t) for _, t in items),
            "train_tokens": idx.available_tokens,
            "val_tokens": held,
            "val_docs": splits.count("val"),
        }
    return domains, vocab_size, info
