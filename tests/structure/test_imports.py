"""No import circle among the project's packages, and every ``corpus`` module imports on its own."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.structure.import_graph import PACKAGES, external_imports, find_cycle, import_graph, project_modules

ROOT = Path(__file__).resolve().parents[2]


def test_no_import_circle_in_the_project():
    graph = import_graph(ROOT)
    assert len(graph) > 100, f"only {len(graph)} modules found under {ROOT}: {PACKAGES}"
    assert graph["corpus.mixing.policies"] >= {"corpus.mixing.configs", "corpus.mixing.regression"}
    cycle = find_cycle(graph)
    assert cycle is None, "import circle: " + " -> ".join(cycle or [])


def test_no_import_circle_even_through_imports_inside_functions():
    # a deferred import hides a circle until its function runs; the layers forbid those too
    graph = import_graph(ROOT, deferred=True)
    cycle = find_cycle(graph)
    assert cycle is None, "import circle through a deferred import: " + " -> ".join(cycle or [])


def test_no_module_over_500_lines():
    files = [p for d in (*PACKAGES, "benchmarks", "tests") for p in (ROOT / d).rglob("*.py")]
    assert len(files) > 200
    long = {p.relative_to(ROOT).as_posix(): n for p in files if (n := len(p.read_text().splitlines())) > 500}
    assert long == {}, f"split these modules by concern: {long}"


def test_the_core_library_imports_neither_dagster_nor_anthropic():
    offending = {
        name: sorted(found)
        for name, path in project_modules(ROOT, ("corpus",)).items()
        if (found := external_imports(path) & {"dagster", "dagster_aws", "dagster_pipes", "anthropic"})
    }
    assert offending == {}


def test_the_cycle_check_finds_a_circle(tmp_path):
    pkg = tmp_path / "corpus"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from corpus.sub import b\n")
    (pkg / "sub" / "b.py").write_text("from ..c import thing\n")
    (pkg / "c.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    import corpus.d\n"
        "try:\n    import corpus.a\nexcept ImportError:\n    pass\n"
    )
    (pkg / "d.py").write_text("def later():\n    import corpus.a\n")
    graph = import_graph(tmp_path, ("corpus",))
    assert graph["corpus.c"] == {"corpus.a"}  # TYPE_CHECKING is not run; try blocks are
    assert graph["corpus.d"] == set()  # a deferred import runs when its function is called
    cycle = find_cycle(graph)
    assert cycle is not None and set(cycle) == {"corpus.a", "corpus.sub.b", "corpus.c"}


_IMPORT_EACH = textwrap.dedent(
    """
    import importlib, os, sys, traceback
    # third-party libraries only (fork-safe ones), so each child does not pay for them again
    for lib in ("numpy", "pyarrow", "pydantic", "yaml", "orjson"):
        importlib.import_module(lib)
    failed = []
    for name in sys.argv[1:]:
        pid = os.fork()
        if pid == 0:  # a child with no project module loaded: this one is imported first
            try:
                importlib.import_module(name)
            except BaseException:
                traceback.print_exc()
                os._exit(1)
            os._exit(0)
        _, status = os.waitpid(pid, 0)
        if status:
            failed.append(name)
    print("FAILED", failed)
    sys.exit(1 if failed else 0)
    """
)


@pytest.mark.slow
def test_every_corpus_module_imports_first():
    """Each module, imported first in a fresh interpreter, loads: an import circle would fail one of them."""
    names = sorted(m for m in project_modules(ROOT, ("corpus",)) if not m.endswith("__main__"))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run(
        [sys.executable, "-c", _IMPORT_EACH, *names], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-6000:]
    assert "FAILED []" in proc.stdout
