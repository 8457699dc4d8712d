"""Property tests of the spec loader: whatever a proposal holds, loading it fails only with SpecError,
and every problem names a field.

* arbitrary nested values (dicts, lists, strings, numbers including NaN and infinities, None,
  booleans) given to ``load_spec``;
* arbitrary text and arbitrary YAML documents given to ``load_spec_file``;
* mutations of a valid spec (a value replaced by one of another type, a key removed, an
  unknown key added, a list emptied): the result loads, or fails with issues that name a
  field, and a replaced or removed value is reported at its own path.
"""

from __future__ import annotations

import copy
import math
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from corpus.spec import PathPolicy, SpecError, load_spec, load_spec_file

VALID: dict[str, Any] = {
    "pipeline": "web",
    "description": "web text for the mixture",
    "owners": ["team:data"],
    "shard_docs": 1000,
    "sources": [
        {"name": "crawl", "location": "data/sources/crawl", "format": "warc"},
        {
            "name": "books",
            "location": "data/sources/books",
            "format": "jsonl",
            "text_field": "text",
            "url_field": "url",
        },
        {
            "name": "notes",
            "location": "data/sources/notes",
            "format": "text",
            "split": "paragraph",
            "chunk_chars": 2000,
        },
    ],
    "stages": [
        {"name": "extracted", "steps": [{"op": "extract_html@1", "config": {}}], "sources": ["crawl"]},
        {"name": "language", "steps": [{"op": "language_filter@1", "config": {"languages": ["en"], "min_score": 0.5}}]},
        {
            "name": "quality",
            "steps": [{"op": "gopher_repetition@1"}, {"op": "gopher_quality@1", "config": {"min_doc_words": 20}}],
        },
        {"name": "deduped", "steps": [{"op": "dedup_minhash@1"}]},
        {"name": "redacted", "steps": [{"op": "redact_pii@1"}]},
    ],
    "tokenizer": {"vocab_size": 4096, "sample_docs": 1000},
    "mixture": {
        "policy": "excess_loss",
        "budget_tokens": 2_000_000,
        "rounds": 4,
        "policy_config": {"step_size": 1.0},
        "proxy": {"n_layer": 2, "n_head": 4, "n_embd": 128},
    },
}
# a field path as issues name it: sources[0].location, stages[2].steps[1].config.min_doc_words, (root), (yaml)
FIELD_RE = re.compile(r"^(\(root\)|\(yaml\)|[A-Za-z_][\w\-]*(\[\d+\])*(\.[^.\s\[\]]+(\[\d+\])*)*)$")

SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**15), max_value=10**15),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(
        [
            "jsonl",
            "warc",
            "text",
            "../../etc",
            "/etc/passwd",
            "s3://b/x",
            "$(id)",
            "{{ x }}",
            "normalize_text@1",
            "dedup_minhash@1",
            "raw",
            "m0001",
            "~/x",
            "data/x",
            "__import__('os')",
            "a" * 5000,
        ]
    ),
)
SPEC_KEYS = sorted(
    {
        *VALID,
        *VALID["sources"][1],
        *VALID["stages"][1],
        *VALID["tokenizer"],
        *VALID["mixture"],
        "op",
        "config",
        "input",
        "steps",
        "glob",
        "initial",
        "split",
        "title_field",
        "kind",
        "path",
    }
)
keys = st.one_of(st.sampled_from(SPEC_KEYS), st.text(max_size=12))
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(keys, inner, max_size=5)),
    max_leaves=25,
)


@pytest.fixture(scope="module")
def policy(tmp_path_factory: pytest.TempPathFactory) -> PathPolicy:
    root = tmp_path_factory.mktemp("project")
    (root / "data" / "sources").mkdir(parents=True)
    return PathPolicy.default(root)


def assert_field_issues(exc: SpecError, *, known_keys: bool = True) -> None:
    """Every issue names a field (a path of known keys; any non-empty name where the input invented keys)."""
    assert exc.issues, "a SpecError must list its problems"
    for issue in exc.issues:
        assert isinstance(issue.field, str) and issue.field, f"an issue without a field: {issue}"
        if known_keys:
            assert FIELD_RE.match(issue.field), f"issue field {issue.field!r} does not name a field"
        assert issue.message.strip(), f"empty message for {issue.field}"
        assert issue.field in str(exc)


@SETTINGS
@given(data=values)
def test_arbitrary_values_fail_only_with_spec_error(policy: PathPolicy, data: Any) -> None:
    try:
        load_spec(data, policy)
    except SpecError as exc:
        assert_field_issues(exc, known_keys=False)


@SETTINGS
@given(data=st.dictionaries(st.sampled_from(sorted(VALID)), values, max_size=8))
def test_arbitrary_top_level_sections_fail_only_with_spec_error(policy: PathPolicy, data: dict[str, Any]) -> None:
    try:
        load_spec(data, policy)
    except SpecError as exc:
        assert_field_issues(exc, known_keys=False)


@SETTINGS
@given(
    text=st.one_of(
        st.text(max_size=400),
        values.map(lambda v: yaml.safe_dump(v, allow_unicode=True)),
        st.sampled_from(
            [
                "!!python/object/apply:os.system ['id']\n",
                "a: !!python/name:os.system\n",
                "type: x\nattributes: &a [*a]\n",
                "key: [unclosed\n",
                "\t- tab\n",
                "? complex\n: key\n",
                "attributes: !!binary aGVsbG8=\ntype: t\n",
            ]
        ),
    )
)
def test_arbitrary_yaml_files_fail_only_with_spec_error(
    policy: PathPolicy, tmp_path_factory: pytest.TempPathFactory, text: str
) -> None:
    path = tmp_path_factory.mktemp("yaml") / "defs.yaml"
    path.write_text(text)
    try:
        load_spec_file(path, policy)
    except SpecError as exc:
        assert_field_issues(exc, known_keys=False)


# --- mutations of a valid spec ----------------------------------------------------------------


def paths_of(obj: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += paths_of(v, (*prefix, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out += paths_of(v, (*prefix, i))
    return out


def field_name(path: tuple[Any, ...]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else ("." if out else "") + str(part)
    return out


ALL_PATHS = paths_of(VALID)
WRONG_TYPE = {
    str: [12345, ["a"], {"a": 1}, None],
    int: ["many", [1], -(10**13), math.nan, None],
    float: ["high", [0.5], math.inf],
    list: ["not a list", 7, {"a": 1}],
    dict: ["not a mapping", 3, [1, 2]],
    bool: ["maybe", [True]],
}


@SETTINGS
@given(path=st.sampled_from(ALL_PATHS), data=st.data())
def test_a_wrong_value_is_reported_at_its_path(policy: PathPolicy, path: tuple[Any, ...], data: st.DataObject) -> None:
    spec = copy.deepcopy(VALID)
    parent = spec
    for part in path[:-1]:
        parent = parent[part]
    original = parent[path[-1]]
    replacement = data.draw(st.sampled_from(WRONG_TYPE[type(original)]), label="replacement")
    parent[path[-1]] = replacement
    try:
        load_spec(spec, policy)
    except SpecError as exc:
        assert_field_issues(exc)
        # config dicts of operators and policies are checked by their own models:
        # their paths get a `steps[j].config.` prefix
        where = field_name(path)
        named = [i.field for i in exc.issues]
        assert any(f.startswith(where) or where.startswith(f) for f in named), (
            f"{where} replaced by {replacement!r}: {named}"
        )
    else:
        # accepted: a value the field may take (e.g. null for an optional field, a list of strings for text_field)
        assert replacement is None or isinstance(replacement, list | str | dict | int | float)


@SETTINGS
@given(path=st.sampled_from(ALL_PATHS), action=st.sampled_from(["remove", "unknown_key", "empty"]))
def test_structural_mutations_load_or_name_a_field(policy: PathPolicy, path: tuple[Any, ...], action: str) -> None:
    spec = copy.deepcopy(VALID)
    parent = spec
    for part in path[:-1]:
        parent = parent[part]
    target = parent[path[-1]]
    if action == "remove":
        del parent[path[-1]]
    elif action == "unknown_key":
        if not isinstance(target, dict):
            return
        target["colour"] = "blue"
    elif isinstance(target, list | dict):
        target.clear()
    else:
        return
    try:
        load_spec(spec, policy)
    except SpecError as exc:
        assert_field_issues(exc)
        if action == "unknown_key" and not field_name(path).endswith("config"):
            assert any(i.field == f"{field_name(path)}.colour" and "unknown field" in i.message for i in exc.issues), (
                exc.issues
            )


def test_python_yaml_tags_are_refused_not_executed(policy: PathPolicy, tmp_path: Path) -> None:
    marker = tmp_path / "executed"
    for tag in (
        "!!python/object/apply:os.system",
        "!!python/object/apply:subprocess.call",
        "!!python/object/new:os.system",
    ):
        path = tmp_path / "defs.yaml"
        path.write_text(
            f'type: platform_assets.components.PipelineComponent\nattributes:\n  pipeline: {tag} ["touch {marker}"]\n'
        )
        with pytest.raises(SpecError) as exc:
            load_spec_file(path, policy)
        assert exc.value.issues[0].field == "(yaml)" and "python/object" in exc.value.issues[0].message
        assert not marker.exists()
