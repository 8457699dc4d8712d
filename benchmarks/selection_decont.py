"""Decontamination recall and false drops on planted GSM8K items in real documents, for bench_selection.py."""

from __future__ import annotations

import json
import os
import random
import time
from pathlib import Path

from selection_suites import passages


def decontamination(docs, n_items: int, tmp: Path) -> dict:
    import polars as pl

    from corpus.ops.decontam import DecontaminateConfig, decontaminate
    from corpus.selection.planting import plant

    data = Path(os.environ.get("CORPUS_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
    recs = [json.loads(x) for x in (data / "math" / "gsm8k-train.jsonl").read_text().splitlines()]
    rng = random.Random(3)
    rng.shuffle(recs)
    items = recs[:n_items]
    path = tmp / "gsm8k_eval.jsonl"
    path.write_text("".join(json.dumps({"question": r["question"]}) + "\n" for r in items))
    items_text = {r["question"] for r in items}
    hosts = [p for d in docs if d.domain != "math" for p in passages(d.text, 1500)]
    hosts += [d.text for d in docs if d.domain == "math" and d.text.split("\n")[0] not in items_text]
    planted, plants = plant(hosts, [r["question"] for r in items], 13, seed=5)
    cfg = DecontaminateConfig(eval_sets=[{"name": "gsm8k", "path": str(path), "fields": ["question"]}])
    # ground truth before planting: hosts sharing an exact 13-word span with an item are contaminated already
    # (other GSM8K problems reuse sentences of the evaluation items); they are not counted as clean
    exact = DecontaminateConfig(eval_sets=cfg.eval_sets, max_edits=0)
    before = decontaminate(pl.DataFrame({"id": [str(i) for i in range(len(hosts))], "text": hosts}), exact)
    natural = set(before.with_row_index().filter(pl.col("_drop") == "contaminated")["index"].to_list())
    batch = pl.DataFrame({"id": [str(i) for i in range(len(planted))], "text": planted})
    t0 = time.perf_counter()
    out = decontaminate(batch, cfg)
    seconds = time.perf_counter() - t0
    dropped = set(out.with_row_index().filter(pl.col("_drop") == "contaminated")["index"].to_list())
    host_ids = {p.doc for p in plants}
    found = {k: sum(1 for p in plants if p.kind == k and p.doc in dropped) for k in ("exact", "edited")}
    total = {k: sum(1 for p in plants if p.kind == k) for k in ("exact", "edited")}
    clean_ids = set(range(len(planted))) - host_ids - natural
    false = len(dropped & clean_ids)
    mb = sum(len(t.encode()) for t in planted) / 1e6
    res = {
        "eval_items": n_items,
        "documents": len(planted),
        "plants": total,
        "found": found,
        "recall": sum(found.values()) / sum(total.values()),
        "naturally_contaminated_hosts": len(natural - host_ids),
        "naturally_contaminated_examples": [hosts[i][:160] for i in sorted(natural - host_ids)[:3]],
        "false_drops": false,
        "clean_documents": len(clean_ids),
        "false_drop_rate": false / len(clean_ids),
        "false_drop_examples": [planted[i][:160] for i in sorted(dropped & clean_ids)[:3]],
        "mb_per_s": round(mb / seconds, 2),
    }
    print(
        f"decontamination: recall {res['recall']:.4f}, false drops {false}/{len(clean_ids)} "
        f"({res['naturally_contaminated_hosts']} hosts overlapped an item before planting)",
        flush=True,
    )
    return res
