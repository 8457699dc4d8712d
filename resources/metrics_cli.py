"""``corpus-metrics``: report and list evaluation records (for external trainers).

    corpus-metrics report --pipeline demo --version m0002 --run-id my-run --step 1000 \\
        --tokens 2000000 --val-loss docs=3.1 --val-loss code=2.4 --finished
    corpus-metrics report --file records.jsonl          # one record per line
    corpus-metrics list --pipeline demo

The storage root is $CORPUS_STORAGE_ROOT (default ./data) or --root; S3 credentials come
from the standard AWS environment variables. The command does not load Dagster.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from corpus.metrics import parse_jsonl, parse_record, record_problems
from resources.metrics_client import MetricsClient
from resources.storage_env import store_from_env


def _client(root: str | None) -> MetricsClient:
    return MetricsClient(store_from_env(root))


def _parse_losses(items: list[str]) -> dict[str, float]:
    out = {}
    for item in items:
        domain, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"--val-loss {item!r}: write DOMAIN=LOSS, e.g. --val-loss code=2.41")
        try:
            out[domain] = float(value)
        except ValueError:
            raise SystemExit(f"--val-loss {item!r}: {value!r} is not a number") from None
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="corpus-metrics", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--root", help="storage root (default $CORPUS_STORAGE_ROOT or ./data)")
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("report", help="append records")
    r.add_argument("--file", type=Path, help="JSON-lines file of records ('-' for stdin)")
    r.add_argument("--pipeline")
    r.add_argument("--version", dest="mixture_version")
    r.add_argument("--run-id")
    r.add_argument("--step", type=int, default=0)
    r.add_argument("--tokens", type=int, default=0)
    r.add_argument("--val-loss", action="append", default=[], metavar="DOMAIN=LOSS")
    r.add_argument("--finished", action="store_true")
    r.add_argument("--trainer", default="external")
    ls = sub.add_parser("list", help="list the records of a pipeline")
    ls.add_argument("--pipeline", required=True)
    args = p.parse_args(argv)
    client = _client(args.root)
    if args.cmd == "list":
        try:
            stored = client.read(args.pipeline)
        except ValueError as exc:
            print(f"--pipeline: {exc}", file=sys.stderr)
            return 2
        for rec in stored.records:
            losses = ", ".join(f"{d}={v:.4f}" for d, v in rec.val_loss.items())
            print(
                f"{rec.created_at:%Y-%m-%d %H:%M:%S} {rec.mixture_version} {rec.run_id} step={rec.step} "
                f"tokens={rec.tokens_seen} finished={rec.finished} {losses}"
            )
        for prob in stored.problems:
            print(f"unreadable: {prob}", file=sys.stderr)
        return 0
    if args.file:
        text = sys.stdin.read() if str(args.file) == "-" else args.file.read_text()
        records, problems = parse_jsonl(text, source=str(args.file))
        for prob in problems:
            print(f"skipped: {prob}", file=sys.stderr)
    else:
        missing = [
            f"--{n}"
            for n, v in (("pipeline", args.pipeline), ("version", args.mixture_version), ("run-id", args.run_id))
            if not v
        ]
        if missing or not args.val_loss:
            p.error(f"report needs --file, or {', '.join(missing + ([] if args.val_loss else ['--val-loss']))}")
        record, problems = parse_record(
            {
                "run_id": args.run_id,
                "pipeline": args.pipeline,
                "mixture_version": args.mixture_version,
                "step": args.step,
                "tokens_seen": args.tokens,
                "val_loss": _parse_losses(args.val_loss),
                "finished": args.finished,
                "trainer": args.trainer,
            },
            where="report",
        )
        for prob in problems:
            print(f"refused: {prob}", file=sys.stderr)
        records = [record] if record is not None else []
    refused = 0
    for rec in records:
        try:
            where = client.append(rec)
        except ValueError as exc:
            print(f"refused: {exc}", file=sys.stderr)
            refused += 1
            continue
        print(f"wrote {where}")
        for prob in record_problems(rec):  # written (a diverged run reports NaN), but the feedback loop will skip it
            print(f"warning: {rec.key}: {prob}; the feedback sensor will skip this record", file=sys.stderr)
    return 0 if records and not refused else 1


if __name__ == "__main__":
    sys.exit(main())
