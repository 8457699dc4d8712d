"""Property test: random YAML with anchors, aliases and random component keys, given to the spec loader.

Every case is accepted (a PipelineSpec) or refused with a SpecError, within 2 s. The YAML is
written as text, so anchors can be reused many times over (alias bombs), refer to the node that
holds them (recursive aliases) or feed merge keys, and the keys mix Dagster's component keys,
the spec's own fields and arbitrary names.
"""

from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from corpus.spec import PathPolicy, PipelineSpec, SpecError, load_spec_file
from corpus.specfile import defs_attributes_from_text

LIMIT_S = 2.0
COMPONENT_KEYS = ["type", "attributes", "post_processing", "template_vars_module", "requirements", "<<"]
SPEC_KEYS = [
    "pipeline",
    "sources",
    "stages",
    "tokenizer",
    "mixture",
    "description",
    "owners",
    "shard_docs",
    "name",
    "location",
    "format",
    "op",
    "config",
    "steps",
    "input",
    "encoding",
    "text_field",
    "policy",
    "initial",
]
SCALARS = [
    "probe",
    "a",
    "data/a",
    "jsonl",
    "text",
    "normalize_text@1",
    "platform_assets.components.PipelineComponent",
    "this.Zen",
    "{{ env.AWS_SECRET_ACCESS_KEY }}",
    "latin-1",
    "auto",
    "s3://other-bucket/x",
    "1e308",
    ".nan",
    "-.inf",
    "null",
    "true",
    "0",
    "4096",
    "'x'",
    '"y"',
    "[]",
    "{}",
]
VALID = (
    "type: platform_assets.components.PipelineComponent\nattributes:\n  pipeline: probe\n"
    "  sources: [{name: a, location: data/a, format: jsonl}]\n  stages: [{name: normalized, op: normalize_text@1}]\n"
)


class Writer:
    """Draws a YAML node as flow-style text, defining anchors and reusing them."""

    def __init__(self, draw: st.DrawFn):
        self.draw = draw
        self.anchors: list[str] = []

    def key(self) -> str:
        return self.draw(
            st.one_of(st.sampled_from(COMPONENT_KEYS + SPEC_KEYS), st.from_regex(r"[a-z_]{1,8}", fullmatch=True))
        )

    def node(self, depth: int) -> str:
        kinds = ["scalar", "alias", "list", "map"] if depth < 4 else ["scalar", "alias"]
        kind = self.draw(st.sampled_from(kinds))
        if kind == "alias" and self.anchors:
            return "*" + self.draw(st.sampled_from(self.anchors))
        if kind in ("scalar", "alias"):
            return self.draw(st.sampled_from(SCALARS))
        anchor = ""
        if self.draw(st.booleans()):
            name = f"a{len(self.anchors)}"
            anchor = f"&{name} "
            if self.draw(st.booleans()):  # defined before its children: they may refer to it (recursion)
                self.anchors.append(name)
                name = ""
        else:
            name = ""
        n = self.draw(st.integers(0, 6))
        if kind == "list":
            body = "[" + ", ".join(self.node(depth + 1) for _ in range(n)) + "]"
        else:
            body = "{" + ", ".join(f"{self.key()}: {self.node(depth + 1)}" for _ in range(n)) + "}"
        if name:
            self.anchors.append(name)
        return anchor + body


@st.composite
def alias_chain(draw: st.DrawFn, w: Writer) -> str:
    """``levels`` anchors, each a list of ``fan`` aliases of the one before: fan**levels values once expanded."""
    levels, fan = draw(st.sampled_from([1, 3, 6, 9, 12])), draw(st.sampled_from([1, 2, 5, 10]))
    base = len(w.anchors)
    lines = [f"b{base}: &c{base} {w.node(3)}"]
    lines += [f"b{base + i}: &c{base + i} [{', '.join([f'*c{base + i - 1}'] * fan)}]" for i in range(1, levels)]
    return "{" + ", ".join(lines) + "}"


@st.composite
def yaml_texts(draw: st.DrawFn) -> str:
    w = Writer(draw)
    if draw(st.integers(0, 3)) == 0:  # an alias chain (small to 10^12 values) somewhere in a valid defs.yaml
        chain = draw(alias_chain(w))
        where = draw(st.sampled_from(["post_processing", "  description", "  x_extra", "  tokenizer"]))
        return VALID + f"{where}: {chain}\n"
    if draw(st.booleans()):  # a valid defs.yaml with random entries added to it, at the top or in the spec
        lines = VALID.splitlines()
        for _ in range(draw(st.sampled_from([0, 1, 2, 3]))):
            entry = f"{w.key()}: {w.node(0)}"
            if draw(st.booleans()):
                lines.append(entry)
            else:
                lines.insert(draw(st.integers(2, len(lines))), "  " + entry)
        return "\n".join(lines) + "\n"
    return "\n".join(f"{w.key()}: {w.node(0)}" for _ in range(draw(st.integers(1, 6)))) + "\n"


@pytest.fixture(scope="module")
def policy(tmp_path_factory: pytest.TempPathFactory) -> PathPolicy:
    root = tmp_path_factory.mktemp("project")
    (root / "data").mkdir()
    return PathPolicy(project_root=root, allowed_roots=((root / "data").resolve(),))


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(text=yaml_texts())
def test_random_yaml_with_aliases_and_component_keys_is_loaded_or_refused_quickly(
    policy: PathPolicy, tmp_path_factory: pytest.TempPathFactory, text: str
) -> None:
    path = tmp_path_factory.mktemp("spec") / "defs.yaml"
    path.write_text(text)
    t0 = time.perf_counter()
    try:
        spec = load_spec_file(path, policy)
        assert isinstance(spec, PipelineSpec)
        assert "{{" not in json.dumps(spec.model_dump(mode="json"))
        event("accepted")
    except SpecError as exc:
        event(
            "refused: "
            + (
                "aliases expanded"
                if "aliases are expanded" in str(exc)
                else "recursive alias"
                if "contains it" in str(exc)
                else "other"
            )
        )
        assert exc.issues and all(i.field and i.message for i in exc.issues)
    seconds = time.perf_counter() - t0
    assert seconds < LIMIT_S, f"{seconds:.2f}s for:\n{text[:2000]}"
    t0 = time.perf_counter()
    with contextlib.suppress(SpecError):  # the reviewer's and the definitions' envelope check, on the text
        defs_attributes_from_text(text, "defs.yaml")
    assert time.perf_counter() - t0 < LIMIT_S


def test_the_generator_makes_both_outcomes(policy: PathPolicy, tmp_path: Path) -> None:
    """The valid base loads, so accepted cases exist; a bomb from the same writer is refused."""
    (tmp_path / "ok.yaml").write_text(VALID)
    assert load_spec_file(tmp_path / "ok.yaml", policy).pipeline == "probe"
    bomb = (
        VALID
        + "post: &a0 [x, x, x, x, x, x, x, x, x]\n"
        + "".join(f"p{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]\n" for i in range(1, 9))
    )
    (tmp_path / "bomb.yaml").write_text(bomb)
    with pytest.raises(SpecError, match="aliases are expanded"):
        load_spec_file(tmp_path / "bomb.yaml", policy)
