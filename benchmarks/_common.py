"""Shared helpers for the benchmark scripts: fair timing on one core, real texts, results.

Every benchmark compares like with like on one CPU core, on real text, and writes what it
measured to ``benchmarks/results/<name>.json`` besides printing a table. Typical use::

    from _common import pin_to_one_core
    pin_to_one_core()          # first: before polars / numpy / torch are imported
    import polars as pl        # noqa: E402
    from _common import load_real_documents, replicate_to_size, median_time, write_results, print_table

    texts = replicate_to_size([d.text for d in load_real_documents()], target_bytes=50_000_000)
    seconds, result = median_time(lambda: work(texts), repeats=3)
    write_results("mine", {"seconds": seconds})   # -> benchmarks/results/mine.json
    print_table([{"engine": "mine", "seconds": seconds}])

This module imports nothing heavy at import time, so pinning can happen before the
numerical libraries read their thread settings.
"""

from __future__ import annotations

import json
import os
import platform
import random
import re
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

BENCHMARKS_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCHMARKS_DIR / "results"
PROJECT_ROOT = BENCHMARKS_DIR.parent
SHARED_DATA = Path(os.environ.get("CORPUS_SHARED_DATA", PROJECT_ROOT.parent / "shared" / "data")).resolve()

_THREAD_VARIABLES = (
    "POLARS_MAX_THREADS",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "RAYON_NUM_THREADS",
    "TOKENIZERS_PARALLELISM",
)


def pin_to_one_core(core: int | None = None) -> int:
    """Run this process on one CPU core with single-threaded numerical libraries; return the core.

    Call it before importing polars, numpy or torch: they size their thread pools from
    these variables on import. A library already imported is reported on stderr, because
    its figures would then not be per-core figures. Without ``core``, the least busy of the
    allowed cores over a quarter of a second is taken, so that benchmarks sharing a machine
    do not all queue on core 0.
    """
    for var in _THREAD_VARIABLES:
        os.environ[var] = "false" if var == "TOKENIZERS_PARALLELISM" else "1"
    chosen = core if core is not None else _least_busy_core()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {chosen})
    late = [m for m in ("polars", "numpy", "torch") if m in sys.modules]
    if late:
        print(
            f"warning: {', '.join(late)} imported before pin_to_one_core(); "
            "their thread pools may use more than one core",
            file=sys.stderr,
        )
    return chosen


def _least_busy_core(window_s: float = 0.25) -> int:
    """The allowed core with the most idle time over ``window_s`` (from /proc/stat); else the first."""
    allowed = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else [0]

    def idle() -> dict[int, int]:
        out: dict[int, int] = {}
        with open("/proc/stat", encoding="ascii") as stat:
            for line in stat:
                name, *fields = line.split()
                if name.startswith("cpu") and name != "cpu" and len(fields) >= 5:
                    out[int(name[3:])] = int(fields[3]) + int(fields[4])  # idle + iowait
        return out

    try:
        before = idle()
        time.sleep(window_s)
        after = idle()
    except OSError:
        return allowed[0]
    return max(allowed, key=lambda c: (after.get(c, 0) - before.get(c, 0), -c))


# --------------------------------------------------------------------------- real texts


@dataclass(frozen=True)
class RealDocument:
    """One real text and the corpus (domain) it came from."""

    domain: str
    text: str


def load_real_documents(
    data_root: Path | None = None, *, web_limit: int | None = None, gsm8k_limit: int | None = None
) -> list[RealDocument]:
    """Real documents from the shared corpora, in a fixed order.

    web: pages of ``web/crawl-sample.warc.gz`` extracted with trafilatura (multilingual);
    math: GSM8K problems (question + worked answer); encyclopedia: WikiText-2 articles
    (split at top-level `` = Title = `` headings); literature: Shakespeare in chunks of
    about 40 lines; speeches: inaugural addresses; multilingual: UDHR translations.
    Raises FileNotFoundError naming the folder when the corpora are absent.
    """
    root = (data_root or SHARED_DATA).resolve()
    if not (root / "README.md").exists():
        raise FileNotFoundError(f"shared corpora not found at {root}; set CORPUS_SHARED_DATA to the data folder")
    docs: list[RealDocument] = []
    docs += [RealDocument("web", t) for t in _web_pages(root / "web" / "crawl-sample.warc.gz", web_limit)]
    docs += [RealDocument("math", t) for t in _gsm8k(root / "math" / "gsm8k-train.jsonl", gsm8k_limit)]
    docs += [RealDocument("encyclopedia", t) for t in _wikitext_articles(root / "encyclopedia" / "wikitext2-valid.txt")]
    docs += [RealDocument("literature", t) for t in _line_chunks(root / "literature" / "tinyshakespeare.txt", 40)]
    docs += [RealDocument("speeches", _read_text(p)) for p in sorted((root / "speeches" / "inaugural").glob("*.txt"))]
    docs += [
        RealDocument("multilingual", _read_text(p)) for p in sorted((root / "multilingual" / "udhr").glob("*.txt"))
    ]
    return [d for d in docs if d.text.strip()]


def _read_text(path: Path) -> str:
    """UTF-8 text; the odd mis-encoded byte (one inaugural address has some) becomes U+FFFD."""
    return path.read_bytes().decode("utf-8", "replace")


def _web_pages(path: Path, limit: int | None) -> Iterable[str]:
    import trafilatura
    from fastwarc.warc import ArchiveIterator, WarcRecordType

    count = 0
    with open(path, "rb") as stream:
        for record in ArchiveIterator(stream, record_types=WarcRecordType.response):
            if limit is not None and count >= limit:
                return
            html = record.reader.read().decode("utf-8", "replace")
            text = trafilatura.extract(html)
            if text:
                count += 1
                yield text


def _gsm8k(path: Path, limit: int | None) -> Iterable[str]:
    with open(path, encoding="utf-8") as lines:
        for i, line in enumerate(lines):
            if limit is not None and i >= limit:
                return
            row = json.loads(line)
            yield f"{row['question']}\n{row['answer']}"


_WIKI_TITLE = re.compile(r"^ = [^=].* = $")


def _wikitext_articles(path: Path) -> Iterable[str]:
    article: list[str] = []
    for line in _read_text(path).splitlines():
        if _WIKI_TITLE.match(line) and any(a.strip() for a in article):
            yield "\n".join(article).strip("\n")
            article = []
        article.append(line)
    if any(a.strip() for a in article):
        yield "\n".join(article).strip("\n")


def _line_chunks(path: Path, lines_per_chunk: int) -> Iterable[str]:
    lines = _read_text(path).splitlines()
    for start in range(0, len(lines), lines_per_chunk):
        yield "\n".join(lines[start : start + lines_per_chunk])


# --------------------------------------------------------------------------- replication

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def perturb(text: str, rng: random.Random) -> str:
    """A plausible variant of ``text`` with the same characters per line.

    Within each line the sentences are shuffled and one pair of words is swapped, so the
    copy is a different document (no cache or dedup shortcut applies to it) that keeps
    the line structure, lengths and vocabulary the filters measure.
    """
    out = []
    for line in text.split("\n"):
        sentences = _SENTENCE_END.split(line)
        if len(sentences) > 1:
            rng.shuffle(sentences)
            line = " ".join(sentences)
        words = line.split(" ")
        if len(words) >= 4:
            i, j = rng.sample(range(len(words)), 2)
            words[i], words[j] = words[j], words[i]
            line = " ".join(words)
        out.append(line)
    return "\n".join(out)


def replicate_to_size(texts: Sequence[str], target_bytes: int, seed: int = 0) -> list[str]:
    """Copies of ``texts`` (the originals first, then perturbed copies) until ``target_bytes`` of UTF-8.

    Deterministic for a given seed; the last copy may be partial, cut at a document boundary.
    """
    if not texts:
        raise ValueError("replicate_to_size needs at least one text")
    rng = random.Random(seed)
    out: list[str] = []
    size = 0
    copy = 0
    while size < target_bytes:
        for text in texts:
            variant = text if copy == 0 else perturb(text, rng)
            out.append(variant)
            size += len(variant.encode("utf-8"))
            if size >= target_bytes:
                break
        copy += 1
    return out


def utf8_bytes(texts: Iterable[str]) -> int:
    return sum(len(t.encode("utf-8")) for t in texts)


# --------------------------------------------------------------------------- timing and output


def median_time(fn: Callable[[], T], repeats: int = 3) -> tuple[float, T]:
    """Median wall time of ``repeats`` calls of ``fn`` (seconds) and the last call's result."""
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    times: list[float] = []
    result: T
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


@dataclass(frozen=True)
class Timing:
    """Wall-clock and CPU seconds (this process) of one call."""

    wall: float
    cpu: float


def timed(fn: Callable[[], T]) -> tuple[Timing, T]:
    """Run ``fn`` once; its wall-clock and process CPU seconds, and its result.

    On a shared machine the CPU time is the steadier per-core figure: other processes
    stretch the wall clock, not the CPU time this process spends.
    """
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return Timing(time.perf_counter() - wall, time.process_time() - cpu), result


def machine_info() -> dict[str, Any]:
    """What the figures were measured on (recorded in every results file)."""
    affinity = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "affinity": affinity,
        "polars_max_threads": os.environ.get("POLARS_MAX_THREADS"),
    }


def write_results(name: str, payload: dict[str, Any]) -> Path:
    """Write ``payload`` (plus machine info and a timestamp) to ``benchmarks/results/<name>.json`` atomically."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    body = {
        "benchmark": name,
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": machine_info(),
        **payload,
    }
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(body, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


def print_table(
    rows: Sequence[dict[str, Any]], columns: Sequence[str] | None = None, *, title: str | None = None
) -> None:
    """Print ``rows`` as an aligned text table; floats get 3 significant decimals."""
    if not rows:
        print("(no rows)")
        return
    cols = list(columns or rows[0].keys())

    def fmt(value: Any) -> str:
        if isinstance(value, float):
            return f"{value:,.3f}" if abs(value) < 1000 else f"{value:,.0f}"
        if isinstance(value, int):
            return f"{value:,}"
        return "" if value is None else str(value)

    cells = [[fmt(r.get(c)) for c in cols] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]
    if title:
        print(title)
    print("  ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for row in cells:
        print("  ".join(v.rjust(w) if _numeric(v) else v.ljust(w) for v, w in zip(row, widths, strict=True)))


def _numeric(cell: str) -> bool:
    return bool(cell) and cell.replace(",", "").replace(".", "").replace("-", "").replace("%", "").isdigit()


__all__ = [
    "SHARED_DATA",
    "RealDocument",
    "Timing",
    "load_real_documents",
    "machine_info",
    "median_time",
    "perturb",
    "pin_to_one_core",
    "print_table",
    "replicate_to_size",
    "timed",
    "utf8_bytes",
    "write_results",
]
