"""``python -m corpus.ops [NAME]``: the operator registry (all operators, or one with its config)."""

from __future__ import annotations

import json
import sys

from corpus.ops import registry


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv:
        try:
            print(json.dumps(registry.get_operator(argv[0]).describe(), indent=2))
        except registry.UnknownOperatorError as exc:
            print(exc, file=sys.stderr)
            return 2
        return 0
    for op in registry.list_operators():
        print(f"{op.key:<22} {op.kind:<7} {op.description}")
        if op.reasons:
            print(f"{'':<30}drop reasons: {', '.join(op.reasons)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
