"""Planner benchmark: proposals on real and generated source fixtures, each scored against explicit expectations.

For every fixture of :mod:`agent_fixtures` the offline planner profiles the sources, plans,
dry-runs and submits a proposal (with its proxy evidence); the proposal's PROPOSAL.md is
rendered, and the proposal is scored: the spec validates, each expectation (stages that
must or must not appear, keep-share bounds, constraints honoured, source options,
quarantine, sample coverage) is met or not, and the evidence table is there.

The Claude loop is scored on the same fixtures through recorded Messages API responses
(``benchmarks/agent_recordings/<fixture>.json``), replayed through the real ``anthropic``
SDK and the loop. With ``--live`` and ``ANTHROPIC_API_KEY`` set, the live model runs instead
and its responses are recorded. A fixture without a recording is replayed from a transcript
built from the offline planner's own tool calls, with one rejected submission first: that
scores the loop's machinery (dispatch, untrusted wrapping, rejection, trace, evidence) on the
fixture, not a model's judgment, and the results say which kind each fixture got.

Writes ``benchmarks/results/agent.json``; ``acceptance`` holds ``fixtures``,
``expectations_met_share`` (offline planner, over every expectation of every fixture),
``specs_valid_share`` and ``evidence_in_every_proposal``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from _common import PROJECT_ROOT, SHARED_DATA, print_table, write_results
from agent_fixtures import Fixture, fixtures, materialize

RECORDINGS = Path(__file__).resolve().parent / "agent_recordings"
SCRATCH = "data/bench_agent"


# --- scoring -----------------------------------------------------------------------------------


def _ops(spec: Any) -> set[str]:
    return {st.op for s in spec.stages for st in s.steps}


def _language_sets(spec: Any) -> list[list[str] | None]:
    return [st.config.get("languages") for s in spec.stages for st in s.steps if st.op == "language_filter@1"]


def score(fixture: Fixture, proposal: Any, md: str, policy: Any) -> dict[str, Any]:
    """Every expectation of ``fixture`` checked on ``proposal``: name -> (met, what was seen)."""
    from agent.goals import check_constraints, parse_goal
    from agent.report import cell
    from agent.tools import check_spec

    spec, dry = proposal.spec, proposal.dry_run
    checks: dict[str, dict[str, Any]] = {}

    def check(name: str, met: bool, seen: Any) -> None:
        checks[name] = {"met": bool(met), "seen": seen}

    ops = _ops(spec)
    exp = fixture.expect
    for op in exp.get("ops_present", []):
        check(f"has {op}", op in ops, sorted(ops))
    for op in exp.get("ops_absent", []):
        check(f"no {op}", op not in ops, sorted(ops))
    if "keep_share" in exp:
        raw = sum(r.docs_in for r in dry.rows if r.stage == "raw")
        share = sum(dry.final_kept().values()) / raw if raw else 0.0
        lo, hi = exp["keep_share"]
        check(f"keep share in [{lo}, {hi}]", lo <= share <= hi, round(share, 4))
    if "constraints" in exp:
        verdicts = {
            v.constraint.kind: v for v in check_constraints(parse_goal(proposal.goal), spec, dry, proposal.profiles)
        }
        for kind, want in exp["constraints"].items():
            v = verdicts.get(kind)
            check(
                f"constraint {kind} {'honoured' if want else 'reported as not honoured'}",
                v is not None and v.honoured is want and cell(v.constraint.describe()) in md,
                None if v is None else [v.honoured, v.how],
            )
    langs = _language_sets(spec)
    if "language_filter_within" in exp:
        allowed = set(exp["language_filter_within"])
        check(
            "language filter within " + ",".join(sorted(allowed)),
            bool(langs) and all(ls is not None and set(ls) <= allowed for ls in langs),
            langs,
        )
    if "language_filter_max" in exp:
        check(
            f"language filter keeps at most {exp['language_filter_max']}",
            bool(langs) and all(ls is not None and len(ls) <= exp["language_filter_max"] for ls in langs),
            langs,
        )
    if "profile_languages_within" in exp:
        allowed = set(exp["profile_languages_within"]) | {"low_confidence", "unknown"}
        seen = {k for p in proposal.profiles.values() for k, v in p.get("language_shares", {}).items() if v >= 0.02}
        check("profile counts no unidentifiable text as a language", seen <= allowed, sorted(seen))
    for fld, want in exp.get("source_option", {}).items():
        values = [getattr(s, fld) for s in spec.sources]
        ok = all(v != "utf-8" for v in values) if want == "!utf-8" else all(v == want for v in values)
        check(f"source {fld} {want}", ok, values)
    if "quarantined_max" in exp:
        q = sum(r.quarantined_total for r in dry.rows)
        check(f"at most {exp['quarantined_max']} quarantined", q <= exp["quarantined_max"], q)
    if "dry_run_files_min" in exp:
        files = sum(c.get("files_read", 0) for c in dry.coverage.values())
        check(f"dry run reads at least {exp['dry_run_files_min']} files", files >= exp["dry_run_files_min"], files)
    if exp.get("whole_paragraphs"):
        paras = set(fixture.paragraphs)
        chunks = [t for src in dry.texts.values() for _, t in src.get("raw", [])]
        cut = sum(1 for c in chunks for p in c.split("\n\n") if p not in paras)
        check("chunks hold whole paragraphs", bool(chunks) and cut == 0, {"chunks": len(chunks), "cut_paragraphs": cut})
    _, issues = check_spec(spec.model_dump(mode="json", exclude_defaults=True), policy)
    evidence = (
        dry.evidence is not None
        and dry.evidence.available
        and "## Evidence: proxy loss" in md
        and "pipeline - raw" in md
    )
    return {
        "spec_valid": not issues,
        "spec_issues": [str(i) for i in issues],
        "evidence": evidence,
        "evidence_detail": dry.evidence.to_json() if dry.evidence is not None else None,
        "checks": checks,
        "met": sum(c["met"] for c in checks.values()),
        "expectations": len(checks),
        "stages": [[s.name, [st.op for st in s.steps]] for s in spec.stages],
        "kept": dry.final_kept(),
    }


# --- running one planner on one fixture -------------------------------------------------------------


def _toolbox(locations: list[str]) -> Any:
    from agent.tools import Toolbox

    return Toolbox(PROJECT_ROOT, locations)


def _proposal_md(goal: str, toolbox: Any, label: str) -> tuple[Any, str]:
    from agent.proposal import proposal_from_toolbox, render_proposal_md

    proposal = proposal_from_toolbox(goal, toolbox, label)
    return proposal, render_proposal_md(proposal, "(the asset graph change is not computed in the benchmark)\n", "main")


def run_offline(fixture: Fixture, locations: list[str]) -> tuple[Any, str, Any]:
    from agent.planner import plan_offline

    toolbox = _toolbox(locations)
    plan_offline(fixture.goal, toolbox)
    proposal, md = _proposal_md(fixture.goal, toolbox, "offline planner")
    return proposal, md, toolbox


def _response(blocks: list[dict[str, Any]], i: int) -> dict[str, Any]:
    return {
        "id": f"msg_replay_{i:04d}",
        "type": "message",
        "role": "assistant",
        "model": "replay",
        "content": blocks,
        "stop_reason": "tool_use" if any(b["type"] == "tool_use" for b in blocks) else "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 0, "output_tokens": 0},
    }


def transcript_from_calls(calls: list[Any]) -> list[dict[str, Any]]:
    """Responses replaying ``calls`` one per turn, with a rejected submission (misspelled operator) before the last."""
    responses, n = [], 0
    for call in calls:
        if call.is_error:
            continue
        if call.name == "submit_proposal":
            bad = json.loads(json.dumps(call.arguments))
            stages = bad["spec"].get("stages") or [{"name": "normalized", "steps": [{"op": "normalize_text@1"}]}]
            bad["spec"]["stages"] = [*stages, {"name": "typo", "op": "gopher_qualty@1"}]
            n += 1
            responses.append(
                _response([{"type": "tool_use", "id": f"toolu_r{n:04d}", "name": call.name, "input": bad}], n)
            )
        n += 1
        responses.append(
            _response([{"type": "tool_use", "id": f"toolu_r{n:04d}", "name": call.name, "input": call.arguments}], n)
        )
    return responses


class Replay:
    """A Messages API served from recorded responses (through the SDK's HTTP layer); records when live."""

    def __init__(self, responses: list[dict[str, Any]]):
        self.responses = list(responses)
        self.served = 0

    def client(self) -> Any:
        import anthropic
        import httpx2

        def handler(request: Any) -> Any:
            if self.served >= len(self.responses):
                return httpx2.Response(
                    500, json={"type": "error", "error": {"type": "api_error", "message": "recording ended"}}
                )
            body = self.responses[self.served]
            self.served += 1
            return httpx2.Response(200, json=body)

        return anthropic.Anthropic(
            api_key="replay",
            base_url="http://replay.invalid",
            max_retries=0,
            http_client=httpx2.Client(transport=httpx2.MockTransport(handler)),
        )


class Recorder:
    """Wraps a live client: every response body is kept, to be written as the fixture's recording."""

    def __init__(self, client: Any):
        self._client = client
        self.responses: list[dict[str, Any]] = []
        outer = self

        class _Messages:
            def create(self, **kwargs: Any) -> Any:
                resp = outer._client.messages.create(**kwargs)
                outer.responses.append(resp.model_dump(mode="json"))
                return resp

        self.messages = _Messages()


def run_claude(
    fixture: Fixture, locations: list[str], offline_calls: list[Any], live: bool
) -> tuple[Any, str, Any, str]:
    from agent.loop import AgentConfig, run_agent

    toolbox = _toolbox(locations)
    recording = RECORDINGS / f"{fixture.name}.json"
    config = AgentConfig(max_turns=40)
    if live:
        from agent.client import anthropic_client

        client = Recorder(anthropic_client())
        kind = f"live ({config.model})"
    elif recording.is_file():
        client = Replay(json.loads(recording.read_text())["responses"]).client()
        kind = "recorded model responses"
    else:
        client = Replay(transcript_from_calls(offline_calls)).client()
        kind = "scripted transcript from the offline planner's calls (no recording of a model for this fixture)"
        config = AgentConfig(model="replay", max_turns=40)
    run_agent(fixture.goal, toolbox, client, config)
    if live:
        RECORDINGS.mkdir(exist_ok=True)
        recording.write_text(
            json.dumps({"fixture": fixture.name, "model": config.model, "responses": client.responses})
        )
    proposal, md = _proposal_md(fixture.goal, toolbox, f"Claude planner ({config.model})")
    return proposal, md, toolbox, kind


def loop_checks(md: str, model_kind: str) -> dict[str, Any]:
    trace = md[md.index("## Tool calls") :] if "## Tool calls" in md else ""
    out = {"trace_in_proposal": bool(trace)}
    if model_kind.startswith("scripted"):
        out["rejected_submission_in_trace"] = "| submit_proposal |" in trace and "**error**" in trace
    return out


def failed_entry(fx, exc: Exception) -> dict:
    """The scored entry of a proposal that raised: invalid, no evidence, nothing met."""
    return {
        "error": f"{type(exc).__name__}: {exc}",
        "spec_valid": False,
        "evidence": False,
        "checks": {},
        "met": 0,
        "expectations": len(fx.expect),
    }


# --- main -------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="*", help="fixture names (default: all)")
    parser.add_argument("--planner", choices=("offline", "claude", "both"), default="both")
    parser.add_argument(
        "--live", action="store_true", help="run the live model (needs ANTHROPIC_API_KEY) and record it"
    )
    args = parser.parse_args()
    if args.live and not os.environ.get("ANTHROPIC_API_KEY"):
        parser.error("--live needs ANTHROPIC_API_KEY in the environment")
    if not SHARED_DATA.is_dir():
        parser.error(f"{SHARED_DATA} is absent: the benchmark reads real corpora from ../shared/data")
    from corpus.spec import PathPolicy

    policy = PathPolicy.default(PROJECT_ROOT)
    scratch = PROJECT_ROOT / SCRATCH
    shutil.rmtree(scratch, ignore_errors=True)
    chosen = [f for f in fixtures() if not args.only or f.name in args.only]
    results: dict[str, Any] = {}
    rows = []
    t_all = time.perf_counter()
    for fx in chosen:
        data = scratch / fx.name
        data.mkdir(parents=True, exist_ok=True)
        locations = [os.path.relpath(p, PROJECT_ROOT) for p in materialize(fx, data, SHARED_DATA)]
        entry: dict[str, Any] = {"goal": fx.goal, "what": fx.what, "locations": locations, "expect": fx.expect}
        offline_calls: list[Any] = []
        if args.planner in ("offline", "both"):
            t0 = time.perf_counter()
            try:
                proposal, md, box = run_offline(fx, locations)
                entry["offline"] = score(fx, proposal, md, policy) | {"seconds": round(time.perf_counter() - t0, 1)}
                offline_calls = box.calls
            except Exception as exc:
                entry["offline"] = failed_entry(fx, exc)
            o = entry["offline"]
            print(
                f"[offline] {fx.name}: {o['met']}/{o['expectations']} expectations, spec valid {o['spec_valid']}, "
                f"evidence {o['evidence']} ({o.get('seconds', '-')}s)",
                flush=True,
            )
        if args.planner in ("claude", "both") and (
            offline_calls or args.live or (RECORDINGS / f"{fx.name}.json").is_file()
        ):
            t0 = time.perf_counter()
            try:
                proposal, md, box, kind = run_claude(fx, locations, offline_calls, args.live)
                entry["claude"] = (
                    score(fx, proposal, md, policy)
                    | loop_checks(md, kind)
                    | {"model": kind, "seconds": round(time.perf_counter() - t0, 1)}
                )
            except Exception as exc:
                entry["claude"] = failed_entry(fx, exc)
            c = entry["claude"]
            print(
                f"[claude]  {fx.name}: {c['met']}/{c['expectations']} expectations, spec valid {c['spec_valid']}, "
                f"evidence {c['evidence']}, {c.get('model', '')}",
                flush=True,
            )
        results[fx.name] = entry
        off, claude = entry.get("offline", {}), entry.get("claude", {})
        rows.append(
            {
                "fixture": fx.name,
                "offline met": f"{off.get('met', 0)}/{off.get('expectations', 0)}",
                "valid": off.get("spec_valid"),
                "evidence": off.get("evidence"),
                "claude met": f"{claude.get('met', '-')}/{claude.get('expectations', '-')}",
            }
        )

    def share(kind: str, key: str) -> float | None:
        got = [r[kind] for r in results.values() if kind in r]
        if not got:
            return None
        if key == "met":
            total = sum(g["expectations"] for g in got)
            return round(sum(g["met"] for g in got) / total, 4) if total else None
        return round(sum(bool(g[key]) for g in got) / len(got), 4)

    main_kind = "offline" if args.planner in ("offline", "both") else "claude"
    acceptance = {
        "fixtures": len(results),
        "expectations_met_share": share(main_kind, "met"),
        "specs_valid_share": share(main_kind, "spec_valid"),
        "evidence_in_every_proposal": all(
            r[k]["evidence"] for r in results.values() for k in ("offline", "claude") if k in r
        )
        if results
        else None,
    }
    payload = {
        "acceptance": acceptance,
        "claude_loop": {
            "expectations_met_share": share("claude", "met"),
            "specs_valid_share": share("claude", "spec_valid"),
            "models": sorted({r["claude"].get("model", "error") for r in results.values() if "claude" in r}),
            "note": "fixtures without a recording of a model are replayed from the offline planner's calls: "
            "that scores the loop's machinery, not a model's judgment",
        },
        "seconds": round(time.perf_counter() - t_all, 1),
        "fixtures": results,
    }
    path = write_results("agent", payload)
    print_table(rows, title="planner benchmark")
    print(json.dumps(acceptance), f"-> {path}")


if __name__ == "__main__":
    main()
