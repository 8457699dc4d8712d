"""The planner's judgment: each case here is a fixture that made an earlier planner propose what a reviewer rejects."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from agent.goals import check_constraints, parse_goal
from agent.loop import AgentConfig
from agent.planner import Plan, choose_languages, choose_spec, plan_offline
from agent.profile import _run_filter, profile_sample
from agent.propose import propose
from agent.sources import guess_source, read_sample
from agent.tools import Toolbox, ToolLimits
from corpus.spec import PathPolicy, parse_spec
from tests.agent.helpers import SENTENCES, ScriptedModel, git, message, notes_spec, prose, tool_use, write_jsonl

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"


def _profile(shares: dict[str, float], **extra) -> dict:
    langs = sorted(
        ({"language": k, "share": v, "docs": max(1, round(v * 200)), "mean_score": 0.9} for k, v in shares.items()),
        key=lambda x: -x["share"],
    )
    return {
        "languages": langs[:12],
        "language_shares": shares,
        "languages_seen": len(shares),
        "html_share": 0.0,
        "code_share": 0.0,
        "language_low_confidence_share": shares.get("low_confidence", 0.0),
        "quality": {},
        "duplicates": {"exact_share": 0.0, "near_share": 0.0},
        "pii": {"total_hits": 0},
        **extra,
    }


# --- 1. the profile measures the text the filters see ------------------------------------------------


def test_profile_quality_figures_are_taken_on_normalized_text(temp_repo: Path) -> None:
    rng = random.Random(3)
    # UTF-8 text that was read back as Latin-1 once (mojibake); normalize_text@1 repairs it before the filters run
    docs = [
        {"text": prose(rng).replace("e", "é").encode("utf-8").decode("latin-1"), "url": f"https://x.org/{i}"}
        for i in range(40)
    ]
    write_jsonl(temp_repo / "data" / "sources" / "moji" / "moji.jsonl", docs)
    policy = PathPolicy.default(temp_repo)
    src = guess_source("data/sources/moji", policy)
    sample = read_sample(src, policy, 40)
    raw_drop = float(_run_filter("gopher_quality@1", sample.docs).is_not_null().mean())
    assert raw_drop > 0.9  # on the raw text gopher_quality would drop nearly everything
    profile = profile_sample(sample)
    assert profile["quality"]["gopher_quality@1"]["drop_share"] == 0.0  # what it drops after normalization
    assert "normalized" in profile["text_seen_by_filters"]
    plan = choose_spec("clean text", "moji", {src.name: src}, {src.name: profile})
    quality_ops = {st["op"] for s in plan.spec["stages"] if s["name"].startswith("quality") for st in s["steps"]}
    assert "gopher_quality@1" in quality_ops


# --- 2. language shares from the whole distribution ---------------------------------------------------


def test_language_share_outside_the_goal_uses_the_full_distribution() -> None:
    shares = {f"l{i:02d}": 0.0098 for i in range(100)} | {"en": 0.01, "fr": 0.01}
    profile = _profile(shares)
    plan = Plan(spec={})
    cfg = choose_languages("udhr", profile, ["en", "fr"], plan)
    # 2% of the sample is in English or French: too little for a filter (an earlier planner read "removes about 10%"
    # from the 12 listed languages and kept 2 documents of 100)
    assert cfg is None
    assert "only 2% of the sample is in them" in plan.decisions[-1]


def test_profile_lists_every_language_and_their_shares_add_up(temp_repo: Path) -> None:
    udhr = SHARED / "multilingual" / "udhr"
    if not udhr.is_dir():
        pytest.skip("../shared/data is absent")
    policy = PathPolicy(project_root=temp_repo, allowed_roots=(udhr.resolve(),))
    src = guess_source(str(udhr.resolve()), policy)
    profile = profile_sample(read_sample(src, policy, 200), 4 << 20)
    assert len(profile["language_shares"]) > 12 and len(profile["languages"]) == 12
    assert abs(sum(profile["language_shares"].values()) - 1.0) < 0.01


# --- 3. goal constraints honoured or listed ---------------------------------------------------------


def test_top_n_languages_constraint_is_honoured_and_reported(temp_repo: Path) -> None:
    shares = {f"l{i:02d}": round(0.5 / (i + 1), 4) for i in range(30)}
    shares["low_confidence"] = round(1 - sum(shares.values()), 4)
    profile = _profile(shares)
    goal = "Keep the 10 most common languages. Only documents about cats."
    src = guess_source("data/sources/notes", PathPolicy.default(temp_repo))
    plan = choose_spec(goal, "langs", {"notes": src}, {"notes": profile})
    lang = [s for s in plan.spec["stages"] if s["name"].startswith("language")]
    kept = lang[0]["steps"][0]["config"]["languages"]
    assert sorted(kept) == sorted(f"l{i:02d}" for i in range(10))
    verdicts = check_constraints(parse_goal(goal), parse_spec(plan.spec), None, {"notes": profile})
    assert [(v.constraint.kind, v.honoured) for v in verdicts] == [("top_languages", True), ("unparsed", None)]


def test_constraints_not_met_are_said_so() -> None:
    spec = parse_spec(
        {
            "pipeline": "p",
            "sources": [{"name": "a", "location": "data/a", "format": "jsonl"}],
            "stages": [
                {"name": "deduped", "op": "dedup_exact@1"},
                {"name": "language", "op": "language_filter@1", "config": {"languages": None}},
            ],
        }
    )
    verdicts = check_constraints(parse_goal("Keep duplicates. Keep the 5 most common languages."), spec, None, {})
    assert [(v.constraint.kind, v.honoured) for v in verdicts] == [("no_dedup", False), ("top_languages", False)]


# --- 4. curated data: a combined drop budget; chunks of whole paragraphs -------------------------------------


def test_curated_math_keeps_nearly_every_problem(tmp_path: Path) -> None:
    gsm = SHARED / "math" / "gsm8k-train.jsonl"
    if not gsm.is_file():
        pytest.skip("../shared/data is absent")
    box = Toolbox(
        tmp_path, [str(gsm.resolve())], policy=PathPolicy(project_root=tmp_path, allowed_roots=(gsm.parent.resolve(),))
    )
    sub = plan_offline("Math word problems for training.", box)
    raw = next(r for r in sub.dry_run.rows if r.stage == "raw")
    kept = sub.dry_run.final_kept()[raw.source]
    # an earlier planner kept two web-prose filters (each under 25%) that together dropped 11% of valid problems
    assert kept >= 0.9 * raw.docs_in
    assert "curated data" in sub.rationale


def test_curated_budget_caps_filters_that_pass_alone() -> None:
    profile = _profile(
        {"en": 1.0},
        quality={
            "gopher_repetition@1": {"drop_share": 0.04, "reasons": {}},
            "fineweb_quality@1": {"drop_share": 0.04, "reasons": {}},
        },
        quality_combined={"fineweb_quality@1+gopher_repetition@1": 0.08},
        source={"format": "text"},
    )
    from agent.planner import choose_quality

    plan = Plan(spec={})
    chosen = choose_quality("novel", profile, None, plan)
    assert chosen == ["gopher_repetition@1"]  # the second filter alone passes, but together they are over 5%
    assert "over the budget" in plan.decisions[-1]


# --- 5. samples spread over the whole source --------------------------------------------------------------


def test_sample_spreads_over_files_and_records(temp_repo: Path) -> None:
    folder = temp_repo / "data" / "sources" / "shelf"
    folder.mkdir(parents=True)
    for i in range(30):
        (folder / f"book{i:02d}.txt").write_text(f"Book {i}. " + " ".join(SENTENCES[i % 20 : i % 20 + 4]) + "\n")
    policy = PathPolicy.default(temp_repo)
    src = guess_source("data/sources/shelf", policy)
    sample = read_sample(src, policy, 10)
    files = sorted(sample.docs["file"].to_list())
    assert len(files) == 10 and files != [f"book{i:02d}.txt" for i in range(10)]  # not the first ten in order
    assert sample.coverage.files_total == 30 and sample.coverage.files_read == 10
    assert sorted(read_sample(src, policy, 10).docs["file"].to_list()) == files  # seeded: the same again
    # one long file: records drawn from all of it, not its beginning
    (temp_repo / "data" / "sources" / "long").mkdir(parents=True)
    (temp_repo / "data" / "sources" / "long" / "lines.txt").write_text(
        "".join(f"line {i} of the file\n" for i in range(1000))
    )
    one = guess_source("data/sources/long", policy).model_copy(update={"split": "line"})
    offsets = read_sample(one, policy, 50).docs["offset"].to_list()
    assert len(offsets) == 50 and max(offsets) > 800 and min(offsets) < 200


# --- 6. text that is not UTF-8 ------------------------------------------------------------------------


def test_latin1_source_is_detected_and_decoded(temp_repo: Path) -> None:
    folder = temp_repo / "data" / "sources" / "latin"
    folder.mkdir(parents=True)
    text = "Der Bürgermeister von Köln erklärte, dass die Straßen für die Feier geschlossen würden.\n\n"
    for i in range(3):
        (folder / f"d{i}.txt").write_bytes((text * 30).encode("latin-1"))
    policy = PathPolicy.default(temp_repo)
    src = guess_source("data/sources/latin", policy)
    assert src.encoding in ("cp1252", "iso8859-1", "latin-1")
    sample = read_sample(src, policy, 10)
    assert sample.batch.quarantine.height == 0 and sample.docs.height == 3
    assert "Köln" in sample.docs["text"][0]
    assert guess_source("data/sources/notes", policy).encoding == "utf-8"  # UTF-8 sources are left as they are


# --- 7. low-confidence guesses are not counted as a language -------------------------------------------------


def test_low_confidence_guesses_are_kept_apart(temp_repo: Path) -> None:
    rng = random.Random(5)
    syll = ["zx", "qv", "pl", "wr", "ty", "bn", "kj", "gh", "ok"]
    noise = [" ".join("".join(rng.choices(syll, k=3)) for _ in range(6)) for _ in range(30)]
    docs = [{"text": t} for t in noise] + [{"text": prose(rng)} for _ in range(30)]
    write_jsonl(temp_repo / "data" / "sources" / "mixed" / "m.jsonl", docs)
    policy = PathPolicy.default(temp_repo)
    profile = profile_sample(read_sample(guess_source("data/sources/mixed", policy), policy, 60))
    shares = profile["language_shares"]
    confident = {k: v for k, v in shares.items() if k not in ("low_confidence", "unknown")}
    assert shares.get("low_confidence", 0) >= 0.3
    assert set(confident) == {"en"}  # the noise is not counted as Dutch, German or Wolof


# --- 8. the Claude path: profile results are untrusted data, and the trace is in PROPOSAL.md --------------------


def test_claude_trace_shows_a_rejected_submission_and_profiles_are_untrusted(temp_repo: Path) -> None:
    bad = notes_spec()
    bad["stages"][1] = {"name": "quality", "op": "gopher_qualty@1"}
    model = ScriptedModel(
        [
            message(tool_use("profile_source", {"source": "notes"})),
            message(tool_use("submit_proposal", {"spec": bad, "rationale": "First try, with a misspelled operator."})),
            message(
                tool_use("submit_proposal", {"spec": notes_spec(), "rationale": "Second try, every operator checked."})
            ),
        ]
    )
    _proposal, published = propose(
        "clean English notes",
        ["data/sources/notes"],
        temp_repo,
        planner="claude",
        client=model.client(),
        agent_config=AgentConfig(model="m", max_turns=5),
        limits=ToolLimits(dry_run_docs=40),
    )
    (profile_result,) = model.tool_results(1)
    assert "\n<untrusted_data>\n" in profile_result["content"] and profile_result["content"].endswith(
        "</untrusted_data>"
    )
    md = git(temp_repo, "show", f"{published.branch}:platform_assets/defs/notes_clean/PROPOSAL.md")
    trace = md[md.index("## Tool calls") :]
    assert "3 tool calls, 1 answered with an error" in trace
    assert "| 2 | submit_proposal |" in trace and "**error**" in trace and "gopher_qualty" in trace
    for section in ("## Evidence: proxy loss", "## Goal constraints", "## Sample coverage", "## Quarantined records"):
        assert section in md


def test_goal_sentences_become_constraints() -> None:
    kinds = [
        (c.kind, c.value)
        for c in parse_goal(
            "Clean English and French web text, deduplicated, with PII removed. Keep at least 90% of it. "
            "Top 5 languages. Make it about cats only."
        )
    ]
    assert kinds == [
        ("languages", ["en", "fr"]),
        ("dedup", None),
        ("pii", None),
        ("min_keep", 0.9),
        ("top_languages", 5),
        ("unparsed", None),
    ]
    assert [c.kind for c in parse_goal("A multilingual corpus; no dedup, no redaction.")] == [
        "any_language",
        "no_dedup",
        "no_pii",
    ]
