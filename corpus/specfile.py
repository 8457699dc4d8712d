"""Spec files: reading a ``defs.yaml`` (or a bare spec YAML) as untrusted input.

A ``defs.yaml`` is read by three parties: the command line, the reviewer's check and the
Dagster definitions (before Dagster's component loader sees the folder). All three go through
:func:`defs_attributes_from_text`, so they accept and refuse the same files:

* at most :data:`MAX_SPEC_BYTES`, checked before the text is parsed;
* one YAML document, safe tags only, aliases bounded (:func:`corpus.spec_parse.check_bounds`);
* the document names the pipeline component in ``type`` and holds ``attributes`` and nothing
  else: Dagster's own keys (``post_processing``, ``template_vars_module``, ``requirements``)
  render templates or import modules, and ``type`` imports whatever module it names;
* no template syntax (``{{ }}``, ``{% %}``, ``${ }``) in any key or value of the document.

:func:`load_defs_folder` loads every pipeline of a defs folder, refusing stray component
files and two folders that claim one pipeline name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from corpus.spec_errors import SpecError, SpecIssue
from corpus.spec_model import PipelineSpec
from corpus.spec_parse import MAX_DEPTH, MAX_VALUES, check_bounds
from corpus.spec_paths import PathPolicy
from corpus.spec_types import TEMPLATE_RE
from corpus.spec_validate import load_spec

MAX_SPEC_BYTES = 1 << 20  # a real spec is a few KB
COMPONENT_TYPE = "platform_assets.components.PipelineComponent"
DEFS_KEYS = ("type", "attributes")
# component files Dagster would load besides defs.yaml: a pipeline folder holds defs.yaml only
OTHER_COMPONENT_FILES = ("defs.yml", "component.yaml")
_DAGSTER_KEYS = ("post_processing", "template_vars_module", "requirements")


def parse_yaml(text: str, where: str) -> Any:
    """The one YAML document in ``text``, parsed safely and bounded; SpecError otherwise."""
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_SPEC_BYTES:
        raise SpecError(
            [SpecIssue("(file)", f"{size:,} bytes, more than the {MAX_SPEC_BYTES:,} a spec may have")], where
        )
    try:
        loader = yaml.SafeLoader(text)
    except yaml.YAMLError as exc:
        raise SpecError([SpecIssue("(yaml)", str(exc))], where) from None
    try:
        nodes = []
        while loader.check_node():
            nodes.append(loader.get_node())
        if len(nodes) != 1:
            raise SpecError([SpecIssue("(yaml)", f"{len(nodes)} YAML documents; a spec file holds exactly one")], where)
        _check_node_bounds(nodes[0], where)  # before construction: merge keys (<<) expand while constructing
        doc = loader.construct_document(nodes[0])
    except yaml.YAMLError as exc:
        raise SpecError([SpecIssue("(yaml)", str(exc))], where) from None
    except RecursionError:
        raise SpecError([SpecIssue("(yaml)", "nested too deeply to parse")], where) from None
    finally:
        loader.dispose()
    check_bounds(doc, where)
    return doc


def _check_node_bounds(root: yaml.Node, where: str) -> None:
    """The composed YAML graph, aliases expanded, is small and acyclic (linear time: sizes are memoized)."""
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(node: yaml.Node, depth: int) -> int:
        if isinstance(node, yaml.ScalarNode):
            return 1
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in active:
            raise SpecError(
                [SpecIssue("(yaml)", "a YAML alias refers to a node that contains it; write the values out")], where
            )
        if depth > MAX_DEPTH:
            raise SpecError([SpecIssue("(yaml)", f"nested more than {MAX_DEPTH} levels deep")], where)
        active.add(key)
        children = [c for pair in node.value for c in pair] if isinstance(node, yaml.MappingNode) else node.value
        total = 1
        for child in children:
            total += size(child, depth + 1)
            if total > MAX_VALUES:
                raise SpecError(
                    [
                        SpecIssue(
                            "(yaml)",
                            f"more than {MAX_VALUES:,} values once YAML aliases are expanded; "
                            "a pipeline spec is far smaller (write it out without aliases)",
                        )
                    ],
                    where,
                )
        active.discard(key)
        sizes[key] = total
        return total

    size(root, 0)


def read_text(path: Path | str) -> str:
    """The text of a spec file, its size checked before it is read."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_SPEC_BYTES:
            raise SpecError(
                [SpecIssue("(file)", f"{size:,} bytes, more than the {MAX_SPEC_BYTES:,} a spec may have")], str(path)
            )
        with path.open("rb") as f:
            data = f.read(MAX_SPEC_BYTES + 1)
    except OSError as exc:
        raise SpecError([SpecIssue("(file)", f"cannot be read ({exc.strerror or exc})")], str(path)) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SpecError(
            [SpecIssue("(file)", f"not UTF-8 at byte {exc.start}; save the spec as UTF-8")], str(path)
        ) from None


def is_defs_document(doc: Any) -> bool:
    return isinstance(doc, dict) and any(k in doc for k in (*DEFS_KEYS, *_DAGSTER_KEYS))


def template_issues(obj: Any, at: str = "") -> list[SpecIssue]:
    """Template syntax anywhere in ``obj``, keys included (bounded data: see check_bounds)."""
    issues: list[SpecIssue] = []
    stack: list[tuple[str, Any]] = [(at, obj)]
    seen: set[int] = set()
    while stack:
        where, node = stack.pop()
        if isinstance(node, dict | list | tuple):
            if id(node) in seen:
                continue
            seen.add(id(node))
        if isinstance(node, dict):
            for k, v in node.items():
                path = f"{where}.{k}" if where else str(k)
                if isinstance(k, str) and TEMPLATE_RE.search(k):
                    issues.append(SpecIssue(path, "key looks like template syntax; specs are never templated"))
                stack.append((path, v))
        elif isinstance(node, list | tuple):
            stack.extend((f"{where}[{i}]", v) for i, v in enumerate(node))
        elif isinstance(node, str) and TEMPLATE_RE.search(node):
            issues.append(
                SpecIssue(
                    where or "(root)",
                    "looks like template syntax ({{ }}, {% %} or ${ }); specs are never "
                    "templated: write the value itself (secrets come from the environment at run time)",
                )
            )
    return sorted(issues, key=lambda i: i.field)


def defs_attributes(doc: Any, where: str) -> Any:
    """The ``attributes`` of a defs.yaml document, once the envelope is checked; SpecError otherwise."""
    if not isinstance(doc, dict):
        raise SpecError(
            [SpecIssue("(root)", f"expected a mapping with type and attributes, got {type(doc).__name__}")], where
        )
    issues = []
    for key in doc:
        if key not in DEFS_KEYS:
            why = (
                "Dagster component options render templates or import code, and a pipeline uses none"
                if key in _DAGSTER_KEYS
                else "not part of a pipeline's defs.yaml"
            )
            issues.append(SpecIssue(str(key), f"unknown key ({why}); a defs.yaml holds only type and attributes"))
    if doc.get("type") != COMPONENT_TYPE:
        got = doc.get("type")
        shown = repr(got)[:80] if isinstance(got, str) else "missing" if got is None else type(got).__name__
        issues.append(
            SpecIssue(
                "type",
                f"must be {COMPONENT_TYPE} (got {shown}); a defs.yaml names the pipeline component and nothing else",
            )
        )
    if "attributes" not in doc:
        issues.append(SpecIssue("attributes", "missing: the pipeline spec goes under attributes:"))
    issues += template_issues(doc)
    if issues:
        raise SpecError(issues, where)
    return doc["attributes"]


def defs_attributes_from_text(text: str, where: str) -> Any:
    """Parse and check defs.yaml text (see the module docstring); returns its attributes."""
    return defs_attributes(parse_yaml(text, where), where)


def load_spec_file(path: Path | str, paths: PathPolicy | None = None) -> PipelineSpec:
    """Load a ``defs.yaml`` (its ``attributes``) or a bare spec YAML file; SpecError naming every problem."""
    where = str(path)
    doc = parse_yaml(read_text(path), where)
    if is_defs_document(doc):
        doc = defs_attributes(doc, where)
    else:
        issues = template_issues(doc)
        if issues:
            raise SpecError(issues, where)
    return load_spec(doc, paths, where=where)


def load_defs_folder(defs_dir: Path, paths: PathPolicy | None = None) -> dict[str, tuple[Path, PipelineSpec]]:
    """Every pipeline of a defs folder by name: ``{pipeline: (its defs.yaml, spec)}``.

    Raises SpecError listing every problem of every file: invalid specs, a ``defs.yaml`` that is
    not ``<defs>/<folder>/defs.yaml``, other component files, and two folders with one pipeline name.
    """
    defs_dir = Path(defs_dir)
    problems: list[SpecIssue] = []
    specs: dict[str, tuple[Path, PipelineSpec]] = {}
    for path in sorted(defs_dir.rglob("*")):
        rel = path.relative_to(defs_dir).as_posix()
        if path.name in OTHER_COMPONENT_FILES or (path.name == "defs.yaml" and rel.count("/") != 1):
            problems.append(
                SpecIssue(
                    rel,
                    f"a component file Dagster would load; pipelines live in "
                    f"{defs_dir.name}/<pipeline>/defs.yaml only: remove it",
                )
            )
    for path in sorted(defs_dir.glob("*/defs.yaml")):
        rel = path.relative_to(defs_dir).as_posix()
        try:
            spec = load_spec_file(path, paths)
        except SpecError as exc:
            problems += [SpecIssue(f"{rel}: {i.field}", i.message) for i in exc.issues]
            continue
        if spec.pipeline in specs:
            other = specs[spec.pipeline][0].relative_to(defs_dir).as_posix()
            problems.append(
                SpecIssue(
                    f"{rel}: pipeline",
                    f"{spec.pipeline!r} is also the pipeline of {other}; "
                    "each pipeline has one folder: rename one of them",
                )
            )
            continue
        specs[spec.pipeline] = (path, spec)
    if problems:
        raise SpecError(problems, str(defs_dir))
    return specs
