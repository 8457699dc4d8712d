"""The agent's tools: schemas, dispatch, path policy, adversarial specs, bounded dry runs, read-only."""

from __future__ import annotations

import copy
import json
import os
import random
from pathlib import Path

import pytest

from agent.tools import Toolbox, ToolLimits
from tests.agent.helpers import INJECTION, notes_records, notes_spec, prose, repo_state, write_jsonl

READ_ONLY_TOOLS = {
    "list_sources",
    "sample_documents",
    "profile_source",
    "list_operators",
    "describe_operator",
    "validate_spec",
    "dry_run",
    "submit_proposal",
}


@pytest.fixture
def toolbox(temp_repo: Path) -> Toolbox:
    return Toolbox(temp_repo, ["data/sources/notes", "data/sources/pages"])


def errors_of(toolbox: Toolbox, spec: dict) -> dict[str, str]:
    result = toolbox.call("validate_spec", {"spec": spec})
    assert not result.is_error, result.content
    assert result.content["valid"] is False, "an adversarial spec passed validation"
    return {e["field"]: e["message"] for e in result.content["errors"]}


def test_tool_table_has_schemas_and_no_writer(toolbox: Toolbox) -> None:
    defs = toolbox.definitions()
    assert {d["name"] for d in defs} == READ_ONLY_TOOLS
    for d in defs:
        assert d["input_schema"]["type"] == "object" and d["description"]
        json.dumps(d)  # what the API receives must be plain JSON
    sample = next(d for d in defs if d["name"] == "sample_documents")["input_schema"]
    assert sample["properties"]["n"]["maximum"] == 20 and sample["required"] == ["source"]
    assert sample["additionalProperties"] is False


def test_sources_are_guessed_and_listed(toolbox: Toolbox) -> None:
    assert toolbox.sources["notes"].format == "jsonl" and toolbox.sources["notes"].url_field == "url"
    assert toolbox.sources["pages"].format == "warc"
    result = toolbox.call("list_sources", {})
    assert not result.is_error and result.untrusted
    given = {s["name"]: s for s in result.content["given_sources"]}
    assert given["notes"]["files"] == 1 and given["pages"]["formats"] == {"warc": 1}


@pytest.mark.parametrize(
    "location",
    ["../../etc", "/etc", "file:///etc/passwd", "https://evil.example/x.jsonl", "data/../../../etc", "~/secrets"],
)
def test_tools_cannot_read_outside_the_allowed_roots(toolbox: Toolbox, location: str) -> None:
    for tool in ("sample_documents", "profile_source"):
        result = toolbox.call(tool, {"source": location})
        assert result.is_error
        assert "not allowed" in result.content or "outside the allowed roots" in result.content


def test_symlink_escape_is_caught(temp_repo: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    write_jsonl(outside / "x.jsonl", [{"text": "private"}])
    (temp_repo / "data" / "link").symlink_to(outside, target_is_directory=True)
    toolbox = Toolbox(temp_repo, ["data/link"])
    assert "data/link" in toolbox.source_errors and "outside the allowed roots" in toolbox.source_errors["data/link"]
    assert toolbox.call("sample_documents", {"source": "data/link"}).is_error


def test_unknown_tool_and_bad_arguments_are_error_results(toolbox: Toolbox) -> None:
    r = toolbox.call("write_file", {"path": "platform_assets/definitions.py", "content": "x"})
    assert r.is_error and "unknown tool 'write_file'" in r.content and "submit_proposal" in r.content
    r = toolbox.call("sample_documents", {"source": "notes", "n": 500})
    assert r.is_error and "n:" in r.content and "less than or equal to 20" in r.content
    r = toolbox.call("profile_source", {"source": "notes", "extra": 1})
    assert r.is_error and "extra" in r.content
    r = toolbox.call("describe_operator", {"name": "gopher_qualty@1"})
    assert r.is_error and "unknown operator 'gopher_qualty@1'" in r.content and "gopher_quality@1" in r.content
    r = toolbox.call("validate_spec", "not an object")
    assert r.is_error
    assert [c.is_error for c in toolbox.calls] == [True] * 5


def test_describe_and_list_operators(toolbox: Toolbox) -> None:
    ops = toolbox.call("list_operators", {}).content["operators"]
    assert {"extract_html@1", "language_filter@1", "dedup_minhash@1", "redact_pii@1"} <= {o["name"] for o in ops}
    d = toolbox.call("describe_operator", {"name": "language_filter@1"}).content
    assert d["defaults"]["min_score"] == 0.5 and "language_not_allowed" in d["drop_reasons"]
    assert "languages" in d["config_schema"]["properties"]


def test_profile_reports_what_the_planner_needs(toolbox: Toolbox) -> None:
    p = toolbox.call("profile_source", {"source": "notes"}).content
    assert p["sample"]["documents"] == 31 and p["html_share"] == 0.0
    assert p["languages"][0]["language"] == "en" and p["languages"][0]["share"] == 1.0
    assert p["duplicates"]["exact_share"] > 0  # one copy in 31
    assert p["pii"]["hits"]["email"] == 1
    assert set(p["quality"]) == {"gopher_quality@1", "gopher_repetition@1", "c4_quality@1", "fineweb_quality@1"}
    # every note is nine sentences of plain English prose: no quality filter drops one
    assert {op: q["drop_share"] for op, q in p["quality"].items()} == dict.fromkeys(p["quality"], 0.0)
    assert p["length_words"]["p50"] > 100
    pages = toolbox.call("profile_source", {"source": "pages"}).content
    assert pages["html_share"] == 1.0 and pages["extraction"]["applied"] == "extract_html@1"
    assert pages["length_chars"]["p50"] < 3000  # measured on the extracted text, not the HTML


def test_profile_drop_shares_are_the_filters_decisions(temp_repo: Path) -> None:
    """Ten documents, four of them junk: the shares are what each filter decides on each document."""
    rng = random.Random(3)
    docs = [{"text": prose(rng)} for _ in range(6)]  # nine sentences of prose each: kept by every filter
    docs += [{"text": "buy now click here"}] * 3  # four words, no sentence
    docs.append({"text": "lorem " * 300})  # long, but no stop word and no sentence
    write_jsonl(temp_repo / "data" / "sources" / "mixed" / "m.jsonl", docs)
    p = Toolbox(temp_repo, ["data/sources/mixed"]).call("profile_source", {"source": "mixed"}).content
    assert p["sample"]["documents"] == 10
    q = p["quality"]
    assert q["gopher_quality@1"] == {
        "drop_share": 0.4,
        "reasons": {"gopher_short_doc": 0.3, "gopher_enough_stop_words": 0.1},
    }
    assert q["c4_quality@1"] == {"drop_share": 0.4, "reasons": {"too_few_sentences": 0.4}}
    assert q["fineweb_quality@1"]["drop_share"] == 0.4


def test_document_text_is_wrapped_as_untrusted(temp_repo: Path) -> None:
    write_jsonl(temp_repo / "data" / "sources" / "evil" / "e.jsonl", notes_records(8, injection=True))
    toolbox = Toolbox(temp_repo, ["data/sources/evil"])
    result = toolbox.call("sample_documents", {"source": "evil", "n": 2})
    rendered = result.render()
    assert rendered.startswith("The JSON between <untrusted_data> tags")
    assert rendered.count("\n<untrusted_data>\n") == 1 and rendered.count("</untrusted_data>") == 1
    assert rendered.rstrip().endswith("</untrusted_data>")  # the document's fake closing tag was escaped
    assert "ignore previous instructions" in rendered
    inner = rendered.split("<untrusted_data>\n", 1)[1].rsplit("\n</untrusted_data>", 1)[0]
    docs = json.loads(inner)["documents"]
    assert docs[0]["text"].startswith(INJECTION[:40])  # intact as data for the model to read


def test_valid_spec_validates(toolbox: Toolbox) -> None:
    result = toolbox.call("validate_spec", {"spec": notes_spec()})
    assert result.content == {
        "valid": True,
        "errors": [],
        "assets": ["raw", "normalized", "quality", "deduped", "redacted", "tokenizer", "tokenized"],
    }
    wrapped = {"type": "platform_assets.components.PipelineComponent", "attributes": notes_spec()}
    assert toolbox.call("validate_spec", {"spec": wrapped}).content["valid"]
    other = {"type": "some.other.Component", "attributes": notes_spec()}
    assert "type" in errors_of(toolbox, other)


ADVERSARIAL = {
    "unknown operator": (
        lambda s: s["stages"].__setitem__(0, {"name": "normalized", "op": "run_shell@1"}),
        "stages[0].steps[0].op",
        "unknown operator 'run_shell@1'",
    ),
    "path traversal": (
        lambda s: s["sources"][0].__setitem__("location", "../../etc"),
        "sources[0].location",
        "outside the allowed roots",
    ),
    "file url": (
        lambda s: s["sources"][0].__setitem__("location", "file:///etc/passwd"),
        "sources[0].location",
        "file:// locations are not allowed",
    ),
    "http url": (
        lambda s: s["sources"][0].__setitem__("location", "https://evil.example/data"),
        "sources[0].location",
        "https:// locations are not allowed",
    ),
    "template in a string": (
        lambda s: s.__setitem__("description", "notes ${AWS_SECRET_ACCESS_KEY}"),
        "description",
        "template syntax",
    ),
    "control characters in a config": (
        lambda s: s["stages"][3].__setitem__("config", {"email_replacement": "x\x1b[2J"}),
        "stages[3].steps[0].config.email_replacement",
        "control character",
    ),
    "python as a field name": (
        lambda s: s["sources"][0].__setitem__("text_field", "__import__('os').system('id')"),
        "sources[0].text_field",
        "is not a record field name",
    ),
    "negative threshold": (
        lambda s: s["stages"][1]["steps"][1].__setitem__("config", {"min_doc_words": -5}),
        "stages[1].steps[1].config.min_doc_words",
        "greater than or equal to 0",
    ),
    "10^12 tokens": (
        lambda s: s.__setitem__("mixture", {"budget_tokens": 10**12}),
        "mixture.budget_tokens",
        "less than or equal to 100000000000",
    ),
    "duplicate asset names": (
        lambda s: s["stages"].append({"name": "quality", "op": "c4_quality@1"}),
        "stages[4].name",
        "duplicate asset name 'quality'",
    ),
    "cycle": (
        lambda s: (s["stages"][0].__setitem__("input", "quality"), s["stages"][1].__setitem__("input", "normalized")),
        "stages[0].input",
        "cycle: normalized -> quality -> normalized",
    ),
    "reserved name": (lambda s: s["stages"][0].__setitem__("name", "tokenizer"), "stages[0].name", "reserved"),
}


@pytest.mark.parametrize("case", list(ADVERSARIAL))
def test_adversarial_specs_are_rejected_naming_the_field(toolbox: Toolbox, case: str) -> None:
    mutate, field, fragment = ADVERSARIAL[case]
    spec = copy.deepcopy(notes_spec())
    mutate(spec)
    errors = errors_of(toolbox, spec)
    assert field in errors, f"{case}: expected an error on {field}, got {errors}"
    assert fragment in errors[field], f"{case}: {errors[field]!r}"
    for tool in ("dry_run", "submit_proposal"):
        args = (
            {"spec": spec, "rationale": "adversarial spec that must be refused"}
            if tool == "submit_proposal"
            else {"spec": spec}
        )
        result = toolbox.call(tool, args)
        assert result.is_error and field in result.content
    assert toolbox.submitted is None


def test_dry_run_counts_stages_and_is_bounded(toolbox: Toolbox) -> None:
    result = toolbox.call("dry_run", {"spec": notes_spec(), "n": 10})
    assert not result.is_error, result.content
    out = result.content
    raw = next(r for r in out["stages"] if r["stage"] == "raw")
    assert raw["in"] == 10 and raw["kept"] == 10  # raw limited to n records
    assert [r["stage"] for r in out["stages"]] == ["raw", "normalized", "quality", "deduped", "redacted"]
    for r in out["stages"]:
        assert r["in"] == r["kept"] + sum(r["dropped"].values()) + sum(r["quarantined"].values())
    assert toolbox.call("dry_run", {"spec": notes_spec(), "n": 501}).is_error  # capped


def test_dry_run_wall_clock_limit_reports_stages_not_run(temp_repo: Path) -> None:
    toolbox = Toolbox(temp_repo, ["data/sources/notes"], limits=ToolLimits(dry_run_seconds=1e-9))
    out = toolbox.call("dry_run", {"spec": notes_spec(), "n": 20}).content
    assert out["timed_out"] is True and out["not_run"] == ["normalized", "quality", "deduped", "redacted"]
    r = toolbox.call(
        "submit_proposal", {"spec": notes_spec(), "rationale": "a spec whose dry run cannot finish in time"}
    )
    assert r.is_error and "time limit" in r.content


def test_submit_refuses_a_spec_that_empties_a_source(toolbox: Toolbox) -> None:
    spec = notes_spec()
    spec["stages"][1] = {"name": "quality", "op": "gopher_quality@1", "config": {"min_doc_words": 5000}}
    r = toolbox.call("submit_proposal", {"spec": spec, "rationale": "keeps only very long documents, on purpose"})
    assert r.is_error and "keeps no document of source 'notes'" in r.content and "gopher_short_doc" in r.content
    assert toolbox.submitted is None
    ok = toolbox.call(
        "submit_proposal", {"spec": notes_spec(), "rationale": "normalize, filter, dedup, redact the notes"}
    )
    assert not ok.is_error and ok.content["accepted"] and toolbox.submitted is not None


def test_tools_never_write_the_repository(temp_repo: Path) -> None:
    before = repo_state(temp_repo)
    toolbox = Toolbox(temp_repo, ["data/sources/notes", "data/sources/pages"])
    for name, args in [
        ("list_sources", {}),
        ("sample_documents", {"source": "pages", "view": "extracted"}),
        ("profile_source", {"source": "notes"}),
        ("validate_spec", {"spec": notes_spec()}),
        ("dry_run", {"spec": notes_spec(), "n": 20}),
        ("submit_proposal", {"spec": notes_spec(), "rationale": "the notes pipeline, checked"}),
    ]:
        assert not toolbox.call(name, args).is_error, name
    assert repo_state(temp_repo) == before
    assert not any(Path(os.environ.get("TMPDIR", "/tmp")).glob("corpus-dry-run-*"))  # the temporary store is gone


@pytest.mark.s3
def test_s3_source_through_the_same_tools(temp_repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An s3:// source (a local moto server) is profiled and dry-run like a local one."""
    import boto3
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        for name, value in {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ENDPOINT_URL": endpoint,
        }.items():
            monkeypatch.setenv(name, value)
        s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
        s3.create_bucket(Bucket="corpus-agent")
        s3.upload_file(
            str(temp_repo / "data" / "sources" / "notes" / "notes.jsonl"), "corpus-agent", "notes/part-0.jsonl"
        )
        monkeypatch.setenv("CORPUS_ALLOWED_ROOTS", "s3://corpus-agent")
        toolbox = Toolbox(temp_repo, ["s3://corpus-agent/notes"])
        assert (
            toolbox.sources["notes"].location == "s3://corpus-agent/notes"
            and toolbox.sources["notes"].format == "jsonl"
        )
        profile = toolbox.call("profile_source", {"source": "notes"})
        assert not profile.is_error and profile.content["sample"]["documents"] == 31
        spec = notes_spec(location="s3://corpus-agent/notes")
        result = toolbox.call("dry_run", {"spec": spec, "n": 31})
        assert not result.is_error and result.content["kept_at_end"]["notes"] == 30
        assert toolbox.call("sample_documents", {"source": "s3://corpus-agent/missing"}).is_error
    finally:
        server.stop()
