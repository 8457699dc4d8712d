"""The meaning of a spec: what pydantic cannot see field by field.

Operators exist and their configs pass the operator's own schema; stage inputs name stages,
the stage graph (:mod:`corpus.stage_graph`) has no cycle, asset names are unique, a global stage
stands alone; locations and the files operators read stay inside the allowed roots (symlinks
resolved); the mixture's weights, policy config, selection and target fit the sources; schedules
target assets that exist. Each problem is a :class:`~corpus.spec_errors.SpecIssue` naming its field.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from corpus.charsets import is_utf8
from corpus.ops import registry
from corpus.spec_errors import SpecError, SpecIssue
from corpus.spec_model import PipelineSpec
from corpus.spec_parse import parse_spec
from corpus.spec_paths import PathPolicy
from corpus.spec_types import MAX_PROSE, text_problem
from corpus.stage_graph import RAW, TOKENIZED, TOKENIZER, StageGraph, index_name, is_global_stage, stage_graph

# assets the pipeline builds itself; a stage may not take these names
RESERVED_NAMES = frozenset({"raw", "tokenizer", "tokenized", "mixture", "proxy_eval"})

Add = Callable[[str, str], None]


def validate_spec(spec: PipelineSpec, paths: PathPolicy | None = None) -> list[SpecIssue]:
    """Every semantic problem of ``spec``, each naming its field. [] means it may run."""
    issues: list[SpecIssue] = []

    def add(field: str, message: str) -> None:
        issues.append(SpecIssue(field, message))

    graph = stage_graph(spec)
    _source_issues(spec, paths, add)
    _stage_issues(spec, paths, add)
    _graph_issues(spec, graph, add)
    if spec.tokenizer.kind == "file" and spec.tokenizer.path and paths is not None:
        why = paths.check(spec.tokenizer.path)
        if why:
            add("tokenizer.path", why)
    _mixture_issues(spec, graph, add)
    _schedule_issues(spec, graph, add)
    return issues


def load_spec(data: Any, paths: PathPolicy | None = None, where: str = "pipeline spec") -> PipelineSpec:
    """Parse and fully validate a spec; raises SpecError listing every problem."""
    spec = parse_spec(data, where)
    issues = validate_spec(spec, paths)
    if issues:
        raise SpecError(issues, where)
    return spec


# --- sources ---------------------------------------------------------------------------------


def _source_issues(spec: PipelineSpec, paths: PathPolicy | None, add: Add) -> None:
    seen: set[str] = set()
    for i, src in enumerate(spec.sources):
        if src.name in seen:
            add(f"sources[{i}].name", f"duplicate source {src.name!r}")
        seen.add(src.name)
        if src.format in ("parquet", "warc") and not is_utf8(src.encoding):
            why = "strings are UTF-8 by definition" if src.format == "parquet" else "records declare their own charset"
            add(
                f"sources[{i}].encoding",
                f"applies to jsonl and text sources only: {src.format} {why}; remove encoding",
            )
        if paths is not None:
            why = paths.check(src.location)
            if why:
                add(f"sources[{i}].location", why)


# --- stages and their operators --------------------------------------------------------------


def _stage_issues(spec: PipelineSpec, paths: PathPolicy | None, add: Add) -> None:
    names: dict[str, int] = {}
    for i, stage in enumerate(spec.stages):
        if stage.name in RESERVED_NAMES:
            add(
                f"stages[{i}].name",
                f"{stage.name!r} is reserved for an asset the pipeline builds itself "
                f"({', '.join(sorted(RESERVED_NAMES))})",
            )
        if stage.name in names:
            add(f"stages[{i}].name", f"duplicate asset name {stage.name!r} (also stages[{names[stage.name]}])")
        names.setdefault(stage.name, i)
        for j, step in enumerate(stage.steps):
            where = f"stages[{i}].steps[{j}]"
            try:
                op = registry.get_operator(step.op)
            except registry.UnknownOperatorError as exc:
                add(f"{where}.op", str(exc))
                continue
            _config_issues(spec, op, step.config, paths, where, add)
            if op.kind == "global":
                if len(stage.steps) != 1:
                    add(
                        f"{where}.op",
                        f"{op.key} works across all sources at once and must be the only step of its stage",
                    )
                index = index_name(stage.name)
                if index in names or index in RESERVED_NAMES:
                    add(
                        f"stages[{i}].name",
                        f"asset name {index!r} (the index of this global stage) collides with another asset",
                    )
                if stage.sources is not None:
                    add(
                        f"stages[{i}].sources",
                        f"{op.key} is global across the pipeline's sources; it cannot be limited to some",
                    )
        for j, s in enumerate(stage.sources or []):
            if s not in spec.source_names:
                add(f"stages[{i}].sources[{j}]", f"unknown source {s!r}; sources: {', '.join(spec.source_names)}")

    indexes = {index_name(s.name) for s in spec.stages if is_global_stage(s)}
    for i, stage in enumerate(spec.stages):
        if stage.name in indexes:
            add(f"stages[{i}].name", f"duplicate asset name {stage.name!r} (the index of a global stage has this name)")


def _config_issues(
    spec: PipelineSpec, op: registry.Operator, config: dict[str, Any], paths: PathPolicy | None, where: str, add: Add
) -> None:
    """An operator's config: its own schema decides (every string at least plain text, see OpConfig); then
    the files it reads and the sources it names."""
    problems = registry.config_errors(op, config)
    for loc, msg in problems:
        add(f"{where}.config.{_index_style(loc)}", msg)
    if not problems:
        parsed = op.parse_config(config)
        for loc, msg in _config_path_issues(parsed, paths):
            add(f"{where}.config.{loc}", msg)
        for loc, name in getattr(parsed, "source_refs", lambda: [])():
            if name not in spec.source_names:
                add(f"{where}.config.{loc}", f"unknown source {name!r}; sources: {', '.join(spec.source_names)}")


def _text_floor(config: dict[str, Any], where: str, add: Add) -> None:
    """Every string of a policy config is bounded plain text (see spec_types), whatever its schema says."""
    for key, value in _walk_strings(config):
        problem = text_problem(value, MAX_PROSE)
        if problem:
            add(f"{where}.{key}", problem)


def _config_path_issues(cfg: Any, paths: PathPolicy | None) -> list[tuple[str, str]]:
    """Files an operator config reads (its ``paths()``): inside the allowed roots and present."""
    out = []
    for loc, location in getattr(cfg, "paths", lambda: [])():
        why = paths.check(location) if paths is not None else None
        if why:
            out.append((loc, why))
        elif paths is not None and not location.startswith("s3://") and not Path(paths.resolve(location)).is_file():
            out.append((loc, f"file {location!r} not found (looked at {paths.resolve(location)}); fix the path"))
    return out


# --- the stage graph -------------------------------------------------------------------------


def _graph_issues(spec: PipelineSpec, graph: StageGraph, add: Add) -> None:
    """Inputs name raw or a stage (never an index or the tokenizer), and no stage reads itself, even
    through others. A duplicate stage name is reported once, by _stage_issues: the graph keeps the
    first stage of a name, so a duplicate never fakes a cycle."""
    known = {RAW, *graph.nodes}
    listing = ", ".join([RAW, *graph.nodes])
    for name, node in graph.nodes.items():
        where = f"stages[{node.position}].input"
        if node.input not in known:
            add(where, f"unknown dependency {node.input!r}; stages: {listing}")
        elif node.input == name:
            add(where, f"stage {name!r} depends on itself (cycle)")
        elif cycle := graph.cycle_from(name):
            add(where, "cycle: " + " -> ".join(cycle))
    if spec.tokenizer.input and spec.tokenizer.input not in known:
        add("tokenizer.input", f"unknown dependency {spec.tokenizer.input!r}; stages: {listing}")


# --- mixture and schedules -------------------------------------------------------------------


def _mixture_issues(spec: PipelineSpec, graph: StageGraph, add: Add) -> None:
    mix = spec.mixture
    if mix is None:
        return
    _heldout_issues(spec, add)
    if isinstance(mix.initial, dict):
        from corpus.mixing.weights import WeightsError, validate_weights

        try:
            validate_weights(mix.initial, spec.trained_sources)
        except WeightsError as exc:
            add("mixture.initial", str(exc))
    _text_floor(mix.policy_config, "mixture.policy_config", add)
    from corpus.mixing.policies import parse_policy_config, policy_config_errors

    problems = policy_config_errors(mix.policy, mix.policy_config)
    for loc, msg in problems:
        add(f"mixture.policy_config.{_index_style(loc)}", msg)
    if not problems:
        floor = parse_policy_config(mix.policy, mix.policy_config).floor
        trained = len(spec.trained_sources)
        if trained and floor * trained > 1:
            add(
                "mixture.policy_config.floor",
                f"a floor of {floor} per domain is impossible with {trained}{' trained' * bool(mix.heldout)} sources "
                f"(floor x sources must be at most 1); set floor to at most {1 / trained:.4g}",
            )
    stages = [s.name for s in spec.stages]
    for domain, sel in mix.selection.items():
        where = f"mixture.selection.{domain}"
        if domain not in spec.source_names:
            add(where, f"unknown domain {domain!r}; sources: {', '.join(spec.source_names)}")
        elif domain in mix.heldout:
            add(where, f"{domain!r} is held out (mixture.heldout): it is never sampled, so nothing is selected")
        if sel.stage not in stages:
            add(
                f"{where}.stage", f"unknown stage {sel.stage!r}; stages: {', '.join(dict.fromkeys(stages)) or '(none)'}"
            )
        else:
            written = _columns_written(spec, graph, sel.stage, domain)
            if written is not None and sel.column not in written:
                add(
                    f"{where}.column",
                    f"stage {sel.stage!r} and the stages before it write no column {sel.column!r} for {domain!r}"
                    f" (they write: {', '.join(sorted(written)) or 'no score or weight column'}); name one of "
                    "those, or select on a stage after one that writes it (quality_classifier@2 and lm_score@1: "
                    "score/<name>, soft_dedup@1: weight/softdedup)",
                )
        from corpus.mixing.selection import SelectionRule

        try:
            SelectionRule(column=sel.column, mode=sel.mode, value=sel.value)
        except ValidationError as exc:
            add(f"{where}.value", "; ".join(e["msg"].removeprefix("Value error, ") for e in exc.errors()))
    unknown_target = [d for d in (mix.target.weights or {}) if d not in spec.source_names]
    if unknown_target:
        add(
            "mixture.target.weights",
            f"unknown source(s) {', '.join(unknown_target)}; sources: {', '.join(spec.source_names)}",
        )
    if mix.proxy.n_embd % mix.proxy.n_head:
        add("mixture.proxy.n_head", f"n_embd ({mix.proxy.n_embd}) must be a multiple of n_head ({mix.proxy.n_head})")


def _heldout_issues(spec: PipelineSpec, add: Add) -> None:
    """Held-out sources: known, once each, not all of them, and counted by a weighted target."""
    mix = spec.mixture
    assert mix is not None
    for i, name in enumerate(mix.heldout):
        where = f"mixture.heldout[{i}]"
        if name not in spec.source_names:
            add(where, f"unknown source {name!r}; sources: {', '.join(spec.source_names)}")
        elif name in mix.heldout[:i]:
            add(where, f"{name!r} is listed twice")
        elif mix.target.kind != "weighted" or not (mix.target.weights or {}).get(name):
            add(
                where,
                f"held-out source {name!r} counts in no target: it is evaluated only for a weighted target; set "
                f"mixture.target to {{kind: weighted, weights: {{{name}: 1, ...}}}}, or train on it",
            )
    if mix.heldout and not spec.trained_sources:
        add("mixture.heldout", "every source is held out; a mixture needs at least one source to train on")


def _columns_written(spec: PipelineSpec, graph: StageGraph, stage: str, domain: str) -> set[str] | None:
    """Columns the documents of ``domain`` carry out of ``stage``: what it and the stages it reads from
    add (None when an operator or config is invalid: those are reported already)."""
    out: set[str] = set()
    for name in graph.lineage(stage):
        st = spec.stage(name)
        if st.sources is not None and domain not in st.sources:
            continue
        for step in st.steps:
            try:
                op = registry.get_operator(step.op)
                cfg = op.parse_config(step.config)
            except (registry.UnknownOperatorError, ValueError):
                return None
            out.update(c.replace("<name>", str(getattr(cfg, "name", ""))) for c in op.adds_columns)
    return out


def _schedule_issues(spec: PipelineSpec, graph: StageGraph, add: Add) -> None:
    learning = ["proxy_eval"] if spec.mixture else []
    targets = [RAW, *graph.nodes, *sorted(graph.index_names), TOKENIZER, TOKENIZED, *learning]
    seen: set[str] = set()
    for i, sched in enumerate(spec.schedules):
        if sched.name in seen:
            add(f"schedules[{i}].name", f"duplicate schedule name {sched.name!r}")
        seen.add(sched.name)
        if sched.target == "mixture":
            add(
                f"schedules[{i}].target",
                "a mixture version is created by the eval_feedback sensor, which chooses its weights; "
                "schedule proxy_eval to re-evaluate the latest version",
            )
        elif sched.target not in targets:
            add(f"schedules[{i}].target", f"unknown asset {sched.target!r}; targets: {', '.join(targets)}")


# --- helpers ---------------------------------------------------------------------------------


def _index_style(loc: str) -> str:
    """A pydantic location (``languages.0``) in the spec's own notation (``languages[0]``)."""
    return re.sub(r"\.(\d+)(?=\.|$)", r"[\1]", loc)


def _walk_strings(obj: Any, prefix: str = "") -> Iterable[tuple[str, str]]:
    if isinstance(obj, str):
        yield prefix or "value", obj
    elif isinstance(obj, dict):
        for k, v in obj.items():
            yield from _walk_strings(v, f"{prefix}.{k}" if prefix else str(k))
    elif isinstance(obj, list | tuple):
        for i, v in enumerate(obj):
            yield from _walk_strings(v, f"{prefix}[{i}]")
