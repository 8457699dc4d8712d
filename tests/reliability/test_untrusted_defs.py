"""A defs.yaml is untrusted input for every party that reads it: the command line, the reviewer's
check and the Dagster definitions (Dagster's own component loader included).

Attacks: Dagster's own component keys (``post_processing`` rendering ``{{ env.X }}`` into every
asset's description), a ``type:`` that imports any module, YAML alias bombs and oversized files,
and a folder that claims another folder's pipeline.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from agent.review import _check_defs
from agent.tools import check_spec
from corpus.spec import PathPolicy, SpecError, load_spec_file
from corpus.specfile import MAX_SPEC_BYTES, load_defs_folder
from platform_assets.orchestrate import load_pipeline_specs
from tests.reliability.test_sandbox import chain_text
from tests.reliability.test_sandbox import load_defs_folder as dagster_load_defs_folder

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SECRET = "FAKE-aws-secret-0123456789abcdef"
ZEN = "Beautiful is better than ugly"
BODY = """attributes:
  pipeline: {name}
  sources:
    - {{name: a, location: data/a, format: jsonl}}
  stages:
    - {{name: normalized, op: normalize_text@1}}
"""
TYPE = "type: platform_assets.components.PipelineComponent\n"
POST_PROCESSING = (
    'post_processing: {assets: [{target: "*", attributes: {description: "{{ env.AWS_SECRET_ACCESS_KEY }}"}}]}\n'
)
# 1.3 KB: nine levels of nine aliases, 9^9 strings once expanded
BOMB = (
    '  x: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    + "".join(f"  x{i}: &a{i} [{','.join([f'*a{i - 1}'] * 9)}]\n" for i in range(1, 9))
    + "  description: *a8\n"
)


def defs(name: str, extra: str = "", *, type_line: str = TYPE, attrs: str = "") -> str:
    return type_line + BODY.format(name=name) + attrs + extra


@pytest.fixture
def policy(tmp_path: Path) -> PathPolicy:
    (tmp_path / "data").mkdir(exist_ok=True)
    return PathPolicy(project_root=tmp_path, allowed_roots=((tmp_path / "data").resolve(),))


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


# --- 1. Dagster's component keys -------------------------------------------------------------


def test_post_processing_templates_are_refused_by_every_reader(
    tmp_path: Path, policy: PathPolicy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    text = defs("probe", POST_PROCESSING)
    with pytest.raises(SpecError) as exc:  # the command line
        load_spec_file(write(tmp_path / "probe" / "defs.yaml", text), policy)
    fields = [i.field for i in exc.value.issues]
    assert "post_processing" in fields and SECRET not in str(exc.value)
    problems = _check_defs(text, policy, "platform_assets/defs/probe/defs.yaml")  # the reviewer's check
    assert any(p.startswith("post_processing:") for p in problems), problems
    _, issues = check_spec(yaml.safe_load(text), policy, build=False)  # the agent's validate tool
    assert "post_processing" in [i.field for i in issues]
    failure = dagster_load_defs_folder({"defs.yaml": text})  # Dagster's own loader, our component inside it
    assert failure is not None, "the definitions loaded: every asset's description would hold the secret"
    assert "post_processing" in chain_text(failure) and SECRET not in chain_text(failure)


@pytest.mark.parametrize(
    "key", ["template_vars_module: os\n", "requirements: {env: [AWS_SECRET_ACCESS_KEY]}\n", "extra_key: 1\n"]
)
def test_other_component_keys_are_refused(tmp_path: Path, policy: PathPolicy, key: str) -> None:
    with pytest.raises(SpecError) as exc:
        load_spec_file(write(tmp_path / "p" / "defs.yaml", defs("probe", key)), policy)
    assert [i.field for i in exc.value.issues] == [key.split(":")[0]]


def test_templates_in_config_keys_are_refused(tmp_path: Path, policy: PathPolicy) -> None:
    text = defs("probe").replace("op: normalize_text@1}", 'op: normalize_text@1, config: {"{{ env.HOME }}": 1}}')
    with pytest.raises(SpecError) as exc:
        load_spec_file(write(tmp_path / "p" / "defs.yaml", text), policy)
    assert any("template syntax" in i.message for i in exc.value.issues)


# --- 2. type: imports any module -------------------------------------------------------------


@pytest.mark.parametrize(
    "type_line",
    ["type: this.Zen\n", "type: os.system\n", "", "type: [1]\n", "type: dagster.components.DefsFolderComponent\n"],
)
def test_type_must_name_the_pipeline_component(tmp_path: Path, policy: PathPolicy, type_line: str) -> None:
    sys.modules.pop("this", None)
    text = defs("probe", type_line=type_line)
    with pytest.raises(SpecError) as exc:  # the command line runs nothing Dagster would refuse
        load_spec_file(write(tmp_path / "p" / "defs.yaml", text), policy)
    assert [i.field for i in exc.value.issues] == ["type"]
    assert any(p.startswith("type:") for p in _check_defs(text, policy, "platform_assets/defs/p/defs.yaml"))
    with pytest.raises(SpecError):  # what the definitions check before Dagster loads the folder
        load_defs_folder(tmp_path, policy)
    assert "this" not in sys.modules


@pytest.mark.slow
def test_dagster_definitions_validate_refuses_every_attack_without_running_it(tmp_path: Path) -> None:
    """The real entry point: ``dagster definitions validate`` on a copy of the project with one attack per folder."""
    project = tmp_path / "project"
    for folder in ("corpus", "platform_assets", "resources", "sensors"):
        shutil.copytree(PROJECT_ROOT / folder, project / folder, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "workspace.yaml"):
        shutil.copy(PROJECT_ROOT / name, project / name)
    defs_dir = project / "platform_assets" / "defs"
    write(defs_dir / "leak" / "defs.yaml", defs("leak", POST_PROCESSING))
    write(defs_dir / "zen" / "defs.yaml", defs("zen", type_line="type: this.Zen\n"))
    write(defs_dir / "bomb" / "defs.yaml", defs("bomb", attrs=BOMB))
    write(defs_dir / "zzz" / "defs.yaml", defs("demo"))
    env = {**os.environ, "PYTHONPATH": str(project), "AWS_SECRET_ACCESS_KEY": SECRET, "DAGSTER_HOME": str(tmp_path)}
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "dagster", "definitions", "validate", "-w", "workspace.yaml"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    seconds = time.perf_counter() - t0
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert ZEN not in out and SECRET not in out
    for expected in (
        "leak/defs.yaml: post_processing",
        "zen/defs.yaml: type",
        "bomb/defs.yaml: (yaml)",
        "zzz/defs.yaml: pipeline",
    ):
        assert expected in out, out[-3000:]
    assert seconds < 120, f"validation took {seconds:.0f}s"


# --- 3. alias bombs and oversized files ------------------------------------------------------


def test_an_alias_bomb_is_refused_at_once(tmp_path: Path, policy: PathPolicy) -> None:
    text = defs("probe", attrs=BOMB)
    assert len(text) < 1500
    path = write(tmp_path / "p" / "defs.yaml", text)
    t0 = time.perf_counter()
    with pytest.raises(SpecError) as exc:
        load_spec_file(path, policy)
    assert time.perf_counter() - t0 < 2
    assert "aliases are expanded" in str(exc.value)
    t0 = time.perf_counter()
    problems = _check_defs(text, policy, "platform_assets/defs/p/defs.yaml")
    assert time.perf_counter() - t0 < 2 and any("aliases" in p for p in problems)


@pytest.mark.parametrize("text", ["a: &a [*a]\n", "a: &a {b: *a}\n", "a: &a {<<: *a}\n"])
def test_recursive_aliases_are_refused(tmp_path: Path, policy: PathPolicy, text: str) -> None:
    with pytest.raises(SpecError, match="contains it"):
        load_spec_file(write(tmp_path / "p" / "spec.yaml", text), policy)


def test_an_alias_bomb_given_as_data_is_refused_before_it_is_walked(policy: PathPolicy) -> None:
    from corpus.spec import load_spec

    level: list = ["lol"] * 9
    for _ in range(9):
        level = [level] * 9
    data = yaml.safe_load(BODY.format(name="probe"))["attributes"]
    data["stages"][0]["config"] = {"x": level}
    t0 = time.perf_counter()
    with pytest.raises(SpecError, match="aliases are expanded"):
        load_spec(data, policy)
    assert time.perf_counter() - t0 < 2


def test_an_oversized_spec_is_refused_before_it_is_read(
    tmp_path: Path, policy: PathPolicy, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "p" / "defs.yaml"
    path.parent.mkdir()
    with path.open("wb") as f:  # a sparse 50 MB file: only its size is real
        f.truncate(50 << 20)
    read = Path.read_text
    monkeypatch.setattr(Path, "read_text", lambda *a, **k: pytest.fail("the file was read") or read(*a, **k))
    with pytest.raises(SpecError) as exc:
        load_spec_file(path, policy)
    assert exc.value.issues[0].field == "(file)" and f"{MAX_SPEC_BYTES:,}" in str(exc.value)


def test_several_yaml_documents_are_refused(tmp_path: Path, policy: PathPolicy) -> None:
    text = defs("probe") + "---\ntype: this.Zen\nattributes: {}\n"
    with pytest.raises(SpecError, match="2 YAML documents"):
        load_spec_file(write(tmp_path / "p" / "defs.yaml", text), policy)


# --- 8. one pipeline, one folder -------------------------------------------------------------


def test_two_folders_with_one_pipeline_name_are_an_error_naming_both(tmp_path: Path, policy: PathPolicy) -> None:
    write(tmp_path / "defs" / "demo" / "defs.yaml", defs("demo"))
    write(tmp_path / "defs" / "zzz" / "defs.yaml", defs("demo"))
    with pytest.raises(SpecError) as exc:
        load_defs_folder(tmp_path / "defs", policy)
    message = str(exc.value)
    assert "zzz/defs.yaml: pipeline" in message and "demo/defs.yaml" in message
    with pytest.raises(SpecError, match=r"zzz/defs\.yaml"):  # the command line's loader
        load_pipeline_specs(tmp_path / "defs")


def test_component_files_outside_pipeline_folders_are_refused(tmp_path: Path, policy: PathPolicy) -> None:
    write(tmp_path / "defs" / "demo" / "defs.yaml", defs("demo"))
    write(tmp_path / "defs" / "demo" / "nested" / "defs.yaml", defs("nested", type_line="type: this.Zen\n"))
    write(tmp_path / "defs" / "other" / "component.yaml", "type: this.Zen\n")
    with pytest.raises(SpecError) as exc:
        load_defs_folder(tmp_path / "defs", policy)
    assert {i.field for i in exc.value.issues} == {"demo/nested/defs.yaml", "other/component.yaml"}


def test_the_project_defs_folder_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    specs = load_pipeline_specs()
    assert {"demo", "corpora"} <= set(specs)
