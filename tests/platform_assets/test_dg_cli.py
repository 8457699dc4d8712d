"""The Components CLI on this project: ``dg check defs``, ``dg list defs`` and ``dg scaffold defs``."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft202012Validator

from corpus.spec import PathPolicy, PipelineSpec, load_spec
from corpus.specfile import defs_attributes_from_text
from platform_assets.components import PipelineComponent
from platform_assets.components.attributes import PipelineAttributes

ROOT = Path(__file__).resolve().parents[2]
DG = Path(sys.executable).parent / "dg"
COMPONENT = "platform_assets.components.PipelineComponent"
PACKAGES = ("corpus", "platform_assets", "sensors", "resources", "agent")


def _dg(cwd: Path, *args: str, home: Path) -> subprocess.CompletedProcess[str]:
    assert DG.exists(), f"{DG} not found: dagster-dg-cli is a pinned dependency (pip install -e .)"
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env = {**os.environ, "PYTHONPATH": str(cwd), "DAGSTER_HOME": str(home), "COLUMNS": "200"}
    return subprocess.run([str(DG), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def _copy_project(dest: Path) -> Path:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for pkg in PACKAGES:
        shutil.copytree(ROOT / pkg, dest / pkg, ignore=ignore)
    shutil.copy(ROOT / "pyproject.toml", dest / "pyproject.toml")
    return dest


def _schema() -> dict:
    model = PipelineComponent.get_model_cls()
    assert model is PipelineAttributes
    return model.model_json_schema()


def test_the_schema_dg_checks_accepts_the_one_step_shorthand():
    validator = Draft202012Validator(_schema())
    for folder in ("corpora", "demo"):  # both use `op:` stages
        doc = yaml.safe_load((ROOT / "platform_assets/defs" / folder / "defs.yaml").read_text())
        errors = [e.message for e in validator.iter_errors(doc["attributes"])]
        assert errors == [], f"{folder}: {errors}"
    base = {"pipeline": "p", "sources": [{"name": "a", "location": "data/a", "format": "jsonl"}]}
    both = {**base, "stages": [{"name": "s", "op": "normalize_text@1", "steps": [{"op": "normalize_text@1"}]}]}
    neither = {**base, "stages": [{"name": "s", "config": {}}]}
    for bad in (both, neither):
        assert not validator.is_valid(bad)
        with pytest.raises(ValueError):
            PipelineSpec.model_validate(bad)  # the schema refuses what the spec refuses


def test_pipeline_attributes_validate_as_the_spec():
    doc = yaml.safe_load((ROOT / "platform_assets/defs/corpora/defs.yaml").read_text())["attributes"]
    spec, attrs = PipelineSpec.model_validate(doc), PipelineAttributes.model_validate(doc)
    assert attrs.model_dump() == spec.model_dump()
    assert "oneOf" not in json.dumps(PipelineSpec.model_json_schema())  # the spec's own schema is unchanged


@pytest.mark.slow
def test_dg_check_and_list_defs_from_the_repo_root(tmp_path):
    check = _dg(ROOT, "check", "defs", home=tmp_path / "home")
    assert check.returncode == 0, check.stdout[-3000:] + check.stderr[-3000:]
    assert "All component YAML validated successfully" in check.stdout + check.stderr
    listed = _dg(ROOT, "list", "defs", "--json", home=tmp_path / "home")
    assert listed.returncode == 0, listed.stderr[-3000:]
    keys = {a["asset_key"] for a in json.loads(listed.stdout)["assets"]}
    assert {"demo/raw", "demo/tokenized", "corpora/deduped"} <= keys


@pytest.mark.slow
def test_dg_scaffold_defs_creates_a_pipeline_that_loads(tmp_path):
    project = _copy_project(tmp_path / "project")
    home = tmp_path / "home"
    made = _dg(
        project,
        "scaffold",
        "defs",
        COMPONENT,
        "web_text",
        "--source-format",
        "warc",
        "--location",
        "data/sources/web",
        home=home,
    )
    assert made.returncode == 0, made.stdout[-3000:] + made.stderr[-3000:]
    defs_file = project / "platform_assets/defs/web_text/defs.yaml"
    text = defs_file.read_text()
    spec = load_spec(defs_attributes_from_text(text, str(defs_file)), PathPolicy.default(project), where="defs.yaml")
    assert spec.pipeline == "web_text"
    assert [(s.name, s.format, s.location) for s in spec.sources] == [("web_text", "warc", "data/sources/web")]
    assert [s.name for s in spec.stages] == ["extracted", "normalized", "quality", "deduped"]

    check = _dg(project, "check", "defs", home=home)
    assert check.returncode == 0, check.stdout[-3000:] + check.stderr[-3000:]
    listed = _dg(project, "list", "defs", "--json", home=home)
    keys = {a["asset_key"] for a in json.loads(listed.stdout)["assets"]}
    assert {"web_text/raw", "web_text/extracted", "web_text/deduped", "web_text/tokenized"} <= keys

    again = _dg(project, "scaffold", "defs", COMPONENT, "web_text", home=home)
    assert again.returncode != 0 and defs_file.read_text() == text  # never overwritten
    bad = _dg(project, "scaffold", "defs", COMPONENT, "Web-Text", home=home)
    assert bad.returncode != 0 and "cannot name a pipeline" in bad.stdout + bad.stderr
    assert not (project / "platform_assets/defs/Web-Text").exists()  # a failed scaffold leaves no folder
