"""PipelineSpec validation: every error names its field, and adversarial specs never pass."""

from __future__ import annotations

import copy
import dataclasses
import os
from pathlib import Path

import pytest

from corpus.spec import PathPolicy, SpecError, load_spec, load_spec_file, parse_spec, spec_to_yaml

BASE = {
    "pipeline": "t",
    "sources": [
        {"name": "a", "location": "data/src/a", "format": "jsonl"},
        {"name": "b", "location": "data/src/b", "format": "text"},
    ],
    "stages": [
        {"name": "normalized", "op": "normalize_text@1"},
        {"name": "quality", "op": "gopher_quality@1", "sources": ["a"]},
        {"name": "deduped", "op": "dedup_minhash@1"},
    ],
}


@pytest.fixture
def policy(tmp_path: Path) -> PathPolicy:
    (tmp_path / "data").mkdir()
    return PathPolicy.default(tmp_path)


def spec_with(**changes):
    d = copy.deepcopy(BASE)
    for path, value in changes.items():
        node = d
        parts = path.split("__")
        for p in parts[:-1]:
            node = node[int(p)] if p.isdigit() else node[p]
        last = parts[-1]
        if last.isdigit():
            node[int(last)] = value
        else:
            node[last] = value
    return d


def issues_of(data, policy):
    with pytest.raises(SpecError) as exc:
        load_spec(data, policy)
    return {i.field: i.message for i in exc.value.issues}, str(exc.value)


def test_valid_spec_loads_and_round_trips(policy):
    spec = load_spec(BASE, policy)
    assert spec.source_names == ["a", "b"]
    assert spec.stage_input(0) == "raw" and spec.stage_input(2) == "quality"
    assert spec.tokenizer_input == "deduped"
    again = load_spec(__import__("yaml").safe_load(spec_to_yaml(spec)), policy)
    assert again == spec


def test_unknown_operator_lists_available(policy):
    issues, _ = issues_of(spec_with(stages__1__op="gopher_qualty@1"), policy)
    msg = issues["stages[1].steps[0].op"]
    assert "unknown operator 'gopher_qualty@1'" in msg and "gopher_quality@1" in msg and "normalize_text@1" in msg


def test_unversioned_operator_hints_version(policy):
    issues, _ = issues_of(spec_with(stages__1__op="gopher_quality"), policy)
    assert "e.g. 'gopher_quality@1'" in issues["stages[1].steps[0].op"]


def test_unknown_dependency(policy):
    data = spec_with()
    data["stages"][1]["input"] = "nope"
    issues, _ = issues_of(data, policy)
    assert "unknown dependency 'nope'" in issues["stages[1].input"]


def test_cycle(policy):
    data = spec_with()
    data["stages"][0]["input"] = "quality"
    data["stages"][1]["input"] = "normalized"
    issues, _ = issues_of(data, policy)
    assert "cycle" in issues["stages[0].input"] and "normalized -> quality -> normalized" in issues["stages[0].input"]


def test_self_dependency(policy):
    data = spec_with()
    data["stages"][0]["input"] = "normalized"
    issues, _ = issues_of(data, policy)
    assert "depends on itself" in issues["stages[0].input"]


@pytest.mark.parametrize(
    "location, expected",
    [
        ("../../etc", "outside the allowed roots"),
        ("data/../../../etc/passwd", "outside the allowed roots"),
        ("/etc/passwd", "absolute paths are not allowed"),
        ("file:///etc/passwd", "file:// locations are not allowed"),
        ("https://example.com/data.jsonl", "https:// locations are not allowed"),
        ("~/secrets", "home-relative"),
        ("s3://bad_bucket!/x", "not a valid s3://bucket/prefix"),
    ],
)
def test_locations_outside_sandbox(policy, location, expected):
    issues, _ = issues_of(spec_with(sources__0__location=location), policy)
    assert expected in issues["sources[0].location"]


def test_symlink_escape_is_caught(policy, tmp_path):
    os.symlink("/etc", tmp_path / "data" / "escape")
    issues, _ = issues_of(spec_with(sources__0__location="data/escape"), policy)
    assert "outside the allowed roots" in issues["sources[0].location"]


def test_s3_location_allowed(policy):
    policy = dataclasses.replace(policy, allowed_s3=("s3://my-bucket/corpora",))
    spec = load_spec(spec_with(sources__0__location="s3://my-bucket/corpora/a"), policy)
    assert spec.sources[0].location.startswith("s3://")


@pytest.mark.parametrize(
    "field, value, what",
    [
        ("sources__0__glob", "$(rm -rf /)", "is not a file glob ('$', '(', ')')"),
        ("sources__0__glob", "../../etc/*", "leaves the source's location"),
        ("sources__0__glob", "/etc/*", "leaves the source's location"),
        ("sources__0__text_field", "__import__('os').system('id')", "is not a record field name"),
        ("sources__0__url_field", "eval(input())", "is not a record field name"),
        ("sources__0__description", "{{ env.SECRET }}", "template syntax"),
        ("sources__0__description", "cost: ${AWS_SECRET_ACCESS_KEY}", "template syntax"),
        ("sources__0__description", "bell \x07 here", "control character"),
        ("sources__0__description", "reviewed \u202eby security", "control character"),
        ("sources__0__description", "x" * 4001, "too long"),
        ("sources__0__location", "data/\x00a", "control character"),
        ("stages__0__op", "normalize_text@1; rm -rf /", "is not an operator reference"),
    ],
)
def test_strings_outside_their_type_are_rejected_naming_field_and_fix(policy, field, value, what):
    with pytest.raises(SpecError) as exc:
        load_spec(spec_with(**{field: value}), policy)
    where = field.replace("__0__", "[0].").replace("stages[0].op", "stages[0].steps[0].op")  # the one-step shorthand
    issue = next(i for i in exc.value.issues if i.field == where)
    assert what in issue.message
    # the message says what the field takes instead
    assert any(fix in issue.message for fix in ("use ", "write ", "shorten", "e.g.", "relative to it"))


@pytest.mark.parametrize(
    "field, value",
    [
        ("sources__0__description", "the subprocess module docs"),
        ("sources__0__glob", "**/__init__.py"),
        ("sources__0__description", "code spans like `os.system` and `eval(x)` render as code"),
        ("sources__0__description", "shell notes: $(date); x; rm -rf / is how the docs say it"),
        ("sources__0__text_field", "content"),
        ("sources__0__glob", "part-[0-9]*.jsonl.gz"),
        ("stages__0__description", "import os, lambda x: x, __main__ and 3 < n > 2"),
    ],
)
def test_harmless_text_is_accepted(policy, field, value):
    data = spec_with(**{field: value})
    spec = load_spec(data, policy)
    assert spec_to_yaml(spec)  # loads and writes back
    node = spec.sources[0] if field.startswith("sources") else spec.stages[0]
    assert getattr(node, field.rsplit("__", 1)[1]) == value


def test_code_in_operator_config_rejected(policy):
    data = spec_with()
    data["stages"][0]["config"] = {"replacement": "$(whoami)"}
    with pytest.raises(SpecError) as exc:
        load_spec(data, policy)
    assert "stages[0].steps[0].config" in str(exc.value)


def test_absurd_values(policy):
    data = spec_with()
    data["mixture"] = {"budget_tokens": 10**12}
    data["stages"][1]["config"] = {"min_doc_words": -5}
    with pytest.raises(SpecError) as exc:
        load_spec(data, policy)
    text = str(exc.value)
    assert "mixture.budget_tokens" in text and "less than or equal to 100000000000" in text
    data = spec_with()
    data["stages"][1]["config"] = {"min_doc_words": -5}
    issues, _ = issues_of(data, policy)
    assert any(k.startswith("stages[1].steps[0].config.min_doc_words") for k in issues)


def test_duplicate_and_reserved_names(policy):
    data = spec_with()
    data["stages"].append({"name": "quality", "op": "normalize_text@1"})
    data["stages"].append({"name": "tokenized", "op": "normalize_text@1"})
    data["stages"].append({"name": "deduped_index", "op": "normalize_text@1"})
    issues, _ = issues_of(data, policy)
    assert "duplicate asset name 'quality'" in issues["stages[3].name"]
    assert "reserved" in issues["stages[4].name"]
    assert "deduped_index" in issues["stages[5].name"]


def test_duplicate_sources_and_unknown_stage_source(policy):
    data = spec_with()
    data["sources"].append({"name": "a", "location": "data/src/c", "format": "jsonl"})
    data["stages"][1]["sources"] = ["zzz"]
    issues, _ = issues_of(data, policy)
    assert "duplicate source 'a'" in issues["sources[2].name"]
    assert "unknown source 'zzz'" in issues["stages[1].sources[0]"]


def test_global_stage_must_stand_alone(policy):
    data = spec_with()
    data["stages"][2] = {"name": "deduped", "steps": [{"op": "dedup_minhash@1"}, {"op": "normalize_text@1"}]}
    issues, _ = issues_of(data, policy)
    assert "must be the only step" in issues["stages[2].steps[0].op"]


def test_structure_errors_name_fields():
    with pytest.raises(SpecError) as exc:
        parse_spec({"pipeline": "Bad Name", "sources": [{"name": "a", "location": "x", "format": "csv", "colour": 1}]})
    fields = {i.field for i in exc.value.issues}
    assert {"pipeline", "sources[0].format", "sources[0].colour"} <= fields
    assert "unknown field" in str(exc.value)


def test_bad_weights_and_policy_config(policy):
    data = spec_with()
    data["mixture"] = {"initial": {"a": 0.7, "b": 0.7}}
    issues, _ = issues_of(data, policy)
    assert "sum to 1.4" in issues["mixture.initial"]
    data["mixture"] = {"initial": {"a": 1.0}}
    issues, _ = issues_of(data, policy)
    assert "missing domains: b" in issues["mixture.initial"]


def test_repo_specs_are_valid(project_root):
    for path in sorted((project_root / "platform_assets" / "defs").glob("*/defs.yaml")):
        spec = load_spec_file(path, PathPolicy.default(project_root))
        assert spec.pipeline == path.parent.name


def test_operator_config_strings_are_plain_text_not_code_checked(policy):
    data = spec_with()
    data["stages"][0] = {"name": "normalized", "op": "redact_pii@1", "config": {"email_replacement": "x; rm -rf /"}}
    assert load_spec(data, policy).stages[0].steps[0].config["email_replacement"] == "x; rm -rf /"
    data["stages"][0]["config"] = {"email_replacement": "x\x1b[2J"}
    issues, _ = issues_of(data, policy)
    assert "control character" in issues["stages[0].steps[0].config.email_replacement"]
    assert not issues["stages[0].steps[0].config.email_replacement"].startswith("Value error")
    data["stages"][0] = {
        "name": "normalized",
        "op": "datatrove_step@1",
        "config": {"step": "GopherQualityFilter", "args": {"stop_words": ["the", "{{ x }}"]}},
    }
    issues, _ = issues_of(data, policy)
    assert "stop_words[1]: looks like template syntax" in issues["stages[0].steps[0].config.args"]


def test_operator_config_field_names_have_their_type(policy):
    data = spec_with()
    data["stages"][0] = {
        "name": "normalized",
        "op": "decontaminate@1",
        "config": {"eval_sets": [{"name": "e", "path": "data/e.jsonl", "fields": ["q", "a'); import os"]}]},
    }
    issues, _ = issues_of(data, policy)
    assert "is not a record field name" in issues["stages[0].steps[0].config.eval_sets[0].fields[1]"]


def test_every_cycle_is_reported_and_inputs_name_stages_only(policy):
    data = spec_with()
    data["stages"] = [
        {"name": "a", "op": "normalize_text@1", "input": "b"},
        {"name": "b", "op": "normalize_text@1", "input": "a"},
        {"name": "c", "op": "normalize_text@1", "input": "d"},
        {"name": "d", "op": "dedup_minhash@1", "input": "c"},
        {"name": "e", "op": "normalize_text@1", "input": "d_index"},
        {"name": "f", "op": "normalize_text@1", "input": "tokenizer"},
    ]
    issues, _ = issues_of(data, policy)
    assert issues["stages[0].input"] == "cycle: a -> b -> a" and issues["stages[1].input"] == "cycle: b -> a -> b"
    assert issues["stages[2].input"] == "cycle: c -> d -> c" and issues["stages[3].input"] == "cycle: d -> c -> d"
    assert issues["stages[4].input"].startswith("unknown dependency 'd_index'; stages: raw, a, b, c, d, e, f")
    assert issues["stages[5].input"].startswith("unknown dependency 'tokenizer'")


def test_template_syntax_in_a_spec_file_is_refused(policy, tmp_path):
    path = tmp_path / "defs.yaml"
    path.write_text(
        "type: platform_assets.components.PipelineComponent\nattributes:\n  pipeline: t\n"
        "  sources: [{name: a, location: data/a, format: jsonl, glob: '${GLOB}'}]\n"
    )
    with pytest.raises(SpecError) as exc:
        load_spec_file(path, policy)
    assert [i.field for i in exc.value.issues] == ["attributes.sources[0].glob"]
    assert "template syntax" in exc.value.issues[0].message


@pytest.mark.parametrize("fields, what", [([], "at least 1 item"), (["t"] * 17, "at most 16 items")])
def test_text_field_lists_are_bounded(policy, fields, what):
    issues, _ = issues_of(spec_with(sources__0__text_field=fields), policy)
    assert what in issues["sources[0].text_field"]
