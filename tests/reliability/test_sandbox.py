"""Untrusted proposals stay inside their sandbox: one test per attack on the spec loader and the agent's tools.

Covered elsewhere and not repeated: plain ``../``, ``/etc``, ``file://``, ``~`` and a location that
is itself a symlink out (tests/corpus/test_spec.py, tests/agent/test_tools.py); shell, Python and
template strings in fields and configs; ``n`` above the cap and the dry run's wall-clock limit.

Here: encoded and disguised traversals, sibling-prefix and newline tricks, the tokenizer path,
symbolic links *inside* an allowed source folder (for the raw stage through Dagster and for
``sample_documents``, ``profile_source`` and ``dry_run``), YAML tags that would run code (in our
loader and in Dagster's component loader, plus a scan that every YAML load in the project is a
safe one), templates in defs.yaml that would read the environment, and resource bounds of a dry
run (its own cap on ``n``, bytes per source, a decompression bomb).
"""

from __future__ import annotations

import ast
import gzip
import json
import os
import time
import tracemalloc
from pathlib import Path

import dagster as dg
import pytest
import yaml

from agent.dryrun import MAX_DRY_RUN_DOCS, dry_run
from agent.sources import read_sample
from agent.tools import Toolbox
from corpus import runner
from corpus.spec import PathPolicy, SpecError, load_spec, load_spec_file, parse_spec
from platform_assets.components.pipeline import build_pipeline_defs
from platform_assets.resources import default_resources
from resources.storage import CorpusStorage
from tests.reliability.helpers import write_prose_jsonl

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SECRET_TEXT = "TOP-SECRET-OUTSIDE-THE-SANDBOX"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project with data/sources/notes (prose), a private folder beside data/, and secrets outside the project."""
    monkeypatch.delenv("CORPUS_ALLOWED_ROOTS", raising=False)
    root = tmp_path / "project"
    write_prose_jsonl(root / "data" / "sources" / "notes" / "notes.jsonl", 40, seed=1)
    private = root / "data_private"
    private.mkdir(parents=True)
    (private / "keys.jsonl").write_text(json.dumps({"text": SECRET_TEXT}) + "\n")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.jsonl").write_text(
        json.dumps({"text": SECRET_TEXT + " " * 10 + "more private words here"}) + "\n"
    )
    (outside / "nested").mkdir()
    (outside / "nested" / "deep.jsonl").write_text(json.dumps({"text": SECRET_TEXT + " nested"}) + "\n")
    return root


def spec_at(location: str, **source: object) -> dict:
    return {
        "pipeline": "probe",
        "sources": [{"name": "src", "location": location, "format": "jsonl", **source}],
        "stages": [{"name": "normalized", "op": "normalize_text@1"}],
    }


# --- the path policy -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "location, reason",
    [
        ("data/../data_private", "outside the allowed roots"),  # a sibling whose name starts like the root
        ("data_private/keys.jsonl", "outside the allowed roots"),
        ("./data/../../outside", "outside the allowed roots"),
        ("data//..//..//outside", "outside the allowed roots"),
        ("data/./sources/../../../outside/secret.jsonl", "outside the allowed roots"),
        (
            "data/sources/notes/\n/../../../../outside",
            "outside the allowed roots",
        ),  # a newline inside a name changes nothing
        ("//etc/passwd", "absolute paths are not allowed"),
        ("~root/.ssh", "home-relative paths are not allowed"),
        ("~", "home-relative paths are not allowed"),
        ("FILE:///etc/passwd", "FILE:// locations are not allowed"),
        ("S3://bucket/x", "S3:// locations are not allowed"),
        ("gs://bucket/x", "gs:// locations are not allowed"),
        ("hdfs://namenode/x", "hdfs:// locations are not allowed"),
        ("s3://bucket/../other-bucket/x", "not a valid s3://bucket/prefix"),
        ("s3://bucket/%2e%2e/x", "not a valid s3://bucket/prefix"),
        ("s3://bucket/x?versionId=1", "not a valid s3://bucket/prefix"),
        ("s3://user:pass@bucket/x", "not a valid s3://bucket/prefix"),
    ],
)
def test_disguised_traversals_are_refused(project: Path, location: str, reason: str) -> None:
    with pytest.raises(SpecError) as exc:
        load_spec(spec_at(location), PathPolicy.default(project))
    messages = {i.field: i.message for i in exc.value.issues}
    assert reason in messages["sources[0].location"], messages


@pytest.mark.parametrize(
    "location",
    [
        "data/%2e%2e/%2e%2e/outside",  # percent-encoding is not decoded: a folder literally named %2e%2e
        "data/..%2f..%2foutside",
        "data/%252e%252e/outside",
        "data/\uff0e\uff0e/\uff0e\uff0e/outside",  # fullwidth dots are not dots
        "data/..\\..\\outside",  # a backslash is a character of a name on POSIX
        "data/\u2025/outside",  # the two-dot leader
    ],
)
def test_encoded_traversals_stay_literal_names_inside_the_root(project: Path, location: str) -> None:
    """Nothing decodes a location: these are odd folder names under data/, never a way out."""
    policy = PathPolicy.default(project)
    assert policy.check(location) is None
    resolved = Path(policy.resolve(location))
    assert (project / "data").resolve() in resolved.parents
    from corpus.io import resolve_location

    _, path, _ = resolve_location(location, project)
    assert Path(path).resolve() == resolved and (project / "data") in Path(path).parents


def test_nul_byte_in_a_location_is_refused(project: Path) -> None:
    with pytest.raises(SpecError) as exc:
        load_spec(spec_at("data/x\x00/../../../outside"), PathPolicy.default(project))
    assert "control characters" in {i.field: i.message for i in exc.value.issues}["sources[0].location"]


def test_tokenizer_path_is_checked_like_a_location(project: Path) -> None:
    for path, reason in (("../outside/tok.json", "outside the allowed roots"), ("/etc/passwd", "absolute paths")):
        data = {**spec_at("data/sources/notes"), "tokenizer": {"kind": "file", "path": path}}
        with pytest.raises(SpecError) as exc:
            load_spec(data, PathPolicy.default(project))
        assert reason in {i.field: i.message for i in exc.value.issues}["tokenizer.path"]


def test_symlink_chain_out_of_the_root_is_caught(project: Path) -> None:
    data = project / "data"
    (data / "hop1").symlink_to(data / "hop2")
    (data / "hop2").symlink_to(project.parent / "outside", target_is_directory=True)
    with pytest.raises(SpecError, match="outside the allowed roots"):
        load_spec(spec_at("data/hop1"), PathPolicy.default(project))


# --- symbolic links inside an allowed folder ---------------------------------------------------


def plant_links(project: Path) -> Path:
    """Links inside data/sources/notes to a file and a folder outside the project (sorted after the real file)."""
    notes = project / "data" / "sources" / "notes"
    (notes / "zz_link.jsonl").symlink_to(project.parent / "outside" / "secret.jsonl")
    (notes / "zz_dir").symlink_to(project.parent / "outside" / "nested", target_is_directory=True)
    (notes / "zz_private.jsonl").symlink_to(project / "data_private" / "keys.jsonl")
    return notes


def test_links_inside_a_source_folder_are_not_followed_by_the_raw_stage(project: Path, tmp_path: Path) -> None:
    notes = plant_links(project)
    spec = load_spec(spec_at("data/sources/notes"), PathPolicy.default(project))
    spec = spec.model_copy(update={"sources": [spec.sources[0].model_copy(update={"location": str(notes)})]})
    resources = default_resources()
    resources["storage"] = CorpusStorage(root=str(tmp_path / "store"))
    result = dg.materialize(
        list(build_pipeline_defs(spec).assets),
        selection=[dg.AssetKey(["probe", "raw"])],
        partition_key="src",
        resources=resources,
        instance=dg.DagsterInstance.ephemeral(),
    )
    assert result.success
    store = resources["storage"].store()
    rep = runner.read_report(store, "probe", "raw", "src")
    assert rep.kept == 40 and rep.quarantined == {"outside_location": 3} and rep.conserved
    q = store.read_partition(runner.quarantine_dir("probe", "raw", "src"))
    assert sorted(q["file"]) == [
        "zz_dir",
        "zz_link.jsonl",
        "zz_private.jsonl",
    ]  # the folder link itself: nothing inside it is listed
    assert set(q["offset"]) == {-1} and all("symbolic link that leads outside" in e for e in q["error"])
    everything = b"".join(p.read_bytes() for p in (tmp_path / "store").rglob("*") if p.is_file())
    assert SECRET_TEXT.encode() not in everything
    md = json.dumps(
        {k: str(v.value) for k, v in result.asset_materializations_for_node("probe__raw")[0].metadata.items()}
    )
    assert SECRET_TEXT not in md


def test_agent_tools_do_not_follow_links_out_of_a_source(project: Path) -> None:
    plant_links(project)
    toolbox = Toolbox(project, ["data/sources/notes"])
    outputs = []
    for name, args in [
        ("list_sources", {}),
        ("sample_documents", {"source": "notes", "n": 20}),
        ("sample_documents", {"source": "data/sources/notes/zz_dir"}),
        ("profile_source", {"source": "notes", "n": 200}),
        ("dry_run", {"spec": spec_at("data/sources/notes"), "n": 200}),
    ]:
        result = toolbox.call(name, args)
        outputs.append(result.render())
        if name == "sample_documents" and args["source"] == "notes":
            assert not result.is_error and result.content["records_read"] == 20  # the first records: the real file
        if name == "dry_run":
            assert not result.is_error, result.content
            raw = next(r for r in result.content["stages"] if r["stage"] == "raw")
            assert raw["kept"] == 40 and raw["quarantined"] == {"outside_location": 3}
    assert toolbox.call(
        "sample_documents", {"source": "data/sources/notes/zz_dir"}
    ).is_error  # the link itself leads out
    for text in outputs:
        assert SECRET_TEXT not in text


def test_a_link_to_a_file_inside_the_folder_is_still_read(project: Path) -> None:
    notes = project / "data" / "sources" / "notes"
    (notes / "alias.jsonl").symlink_to(notes / "notes.jsonl")
    sample = read_sample(parse_spec(spec_at("data/sources/notes")).sources[0], PathPolicy.default(project), 500)
    assert sample.batch.docs.height == 80 and sample.batch.quarantine.height == 0


# --- no code from YAML, no templates -----------------------------------------------------------


UNSAFE_YAML = {
    "load",
    "load_all",
    "full_load",
    "full_load_all",
    "unsafe_load",
    "unsafe_load_all",
    "Loader",
    "FullLoader",
    "UnsafeLoader",
    "add_constructor",
}


def test_every_yaml_load_in_the_project_is_safe() -> None:
    """No yaml.load / load_all / full_load / unsafe_load and no non-safe Loader anywhere in the project's code."""
    unsafe = []
    for folder in ("corpus", "platform_assets", "sensors", "resources", "agent", "benchmarks"):
        for path in (PROJECT_ROOT / folder).rglob("*.py"):
            tree = ast.parse(path.read_text(), filename=str(path))
            for node in ast.walk(tree):
                if (
                    isinstance(node, ast.Attribute)
                    and isinstance(node.value, ast.Name)
                    and node.value.id == "yaml"
                    and node.attr in UNSAFE_YAML
                ):
                    unsafe.append(f"{path.relative_to(PROJECT_ROOT)}:{node.lineno} yaml.{node.attr}")
    assert unsafe == []
    from dagster_shared.yaml_utils import DagsterYamlLoader

    assert issubclass(DagsterYamlLoader, yaml.SafeLoader)  # what Dagster's component loader parses defs.yaml with


def load_defs_folder(files: dict[str, str]) -> Exception | None:
    """Load a defs folder with Dagster's component loader; the exception it raised, or None."""
    from dagster.components.testing import create_defs_folder_sandbox

    with create_defs_folder_sandbox() as sandbox:
        folder = sandbox.defs_folder_path / "probe"
        folder.mkdir()
        for name, text in files.items():
            (folder / name).write_text(text)
        try:
            with sandbox.build_all_defs():
                return None
        except Exception as exc:
            return exc


def chain_text(exc: BaseException) -> str:
    parts = []
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        parts.append(f"{type(exc).__name__}: {exc}")
        exc = exc.__cause__ or exc.__context__
    return "\n".join(parts)


DEFS_HEAD = "type: platform_assets.components.PipelineComponent\nattributes:\n"


@pytest.mark.parametrize(
    "attack",
    [
        '  pipeline: !!python/object/apply:os.system ["touch {marker}"]\n',
        '  pipeline: probe\n  description: !!python/object/apply:subprocess.check_output [["touch", "{marker}"]]\n',
        '  pipeline: probe\n  sources: !!python/object/new:os.system ["touch {marker}"]\n',
    ],
)
def test_python_tags_in_defs_yaml_never_run(tmp_path: Path, attack: str) -> None:
    marker = tmp_path / "executed"
    text = DEFS_HEAD + attack.format(marker=marker)
    exc = load_defs_folder({"defs.yaml": text})
    assert exc is not None and not marker.exists()
    assert "python/object" in chain_text(exc)
    path = tmp_path / "defs.yaml"
    path.write_text(text)
    with pytest.raises(SpecError):
        load_spec_file(path)
    assert not marker.exists()


def test_templates_in_defs_yaml_are_refused_not_rendered(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Dagster components can render ``{{ env.X }}``; a pipeline spec must not: it would copy secrets into metadata."""
    secret = "FAKE-aws-secret-0123456789abcdef"
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
    text = DEFS_HEAD + (
        '  pipeline: probe\n  description: "key {{ env.AWS_SECRET_ACCESS_KEY }}"\n'
        "  sources:\n    - {name: a, location: s3://bucket/a, format: jsonl}\n"
    )
    exc = load_defs_folder({"defs.yaml": text})
    assert exc is not None
    message = chain_text(exc)
    assert "template syntax" in message and secret not in message


# --- bounded dry runs --------------------------------------------------------------------------


def test_dry_run_caps_n_on_its_own(project: Path) -> None:
    write_prose_jsonl(project / "data" / "sources" / "big" / "big.jsonl", MAX_DRY_RUN_DOCS + 200, seed=5, sentences=3)
    spec = parse_spec(spec_at("data/sources/big"))
    result = dry_run(spec, PathPolicy.default(project), n=10**9, time_limit_s=60)
    assert result.n == MAX_DRY_RUN_DOCS
    assert result.rows[0].stage == "raw" and result.rows[0].docs_in == MAX_DRY_RUN_DOCS


def test_dry_run_sample_is_bounded_in_bytes(project: Path) -> None:
    folder = project / "data" / "sources" / "wide"
    folder.mkdir(parents=True)
    with (folder / "wide.jsonl").open("w") as f:
        for i in range(50):
            f.write(json.dumps({"text": f"document {i} " + "words and more words " * 20_000}) + "\n")  # ~420 KB each
    spec = parse_spec(spec_at("data/sources/wide"))
    result = dry_run(spec, PathPolicy.default(project), n=50, max_bytes=1 << 20)
    raw = result.rows[0]
    assert raw.kept <= 3 and raw.docs_in == raw.kept  # 1 MiB of text at most: two or three documents


def test_dry_run_survives_a_decompression_bomb_in_bounded_memory(project: Path) -> None:
    """A 200 MB line compressed to 200 KB: read in a stream, quarantined as too long, never held in memory."""
    folder = project / "data" / "sources" / "bomb"
    folder.mkdir(parents=True)
    comp = gzip.compress(b'{"text": "' + b"a" * (200 << 20) + b'"}\n', compresslevel=9, mtime=0)
    (folder / "bomb.jsonl.gz").write_bytes(comp)
    assert len(comp) < 1 << 20
    spec = parse_spec(spec_at("data/sources/bomb"))
    tracemalloc.start()
    t0 = time.perf_counter()
    try:
        result = dry_run(spec, PathPolicy.default(project), n=10, time_limit_s=60)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert time.perf_counter() - t0 < 60
    raw = result.rows[0]
    assert raw.docs_in == 1 and raw.quarantined == {"line_too_long": 1}
    assert peak < 64 << 20, f"peak Python memory {peak / 2**20:.0f} MiB for a 200 MiB line"


def test_dry_run_temporary_store_is_removed_even_when_a_stage_fails(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tempfile

    made: list[str] = []
    real = tempfile.mkdtemp

    def spy(*a, **k):
        made.append(real(*a, **k))
        return made[-1]

    monkeypatch.setattr(tempfile, "mkdtemp", spy)
    monkeypatch.setattr(runner, "run_stage", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("operator exploded")))
    with pytest.raises(RuntimeError, match="operator exploded"):
        dry_run(parse_spec(spec_at("data/sources/notes")), PathPolicy.default(project), n=5)
    assert made and not any(os.path.exists(p) for p in made)
