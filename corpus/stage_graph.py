"""The stage graph of a pipeline: which asset reads which, and in what order they build.

One place answers "what does this stage read?", "is it global?" and "what comes first?"
for the Dagster component, the runner, the CLI's orchestration, the agent's dry run and
the spec's validation. Build-loop assets are ``raw``, one per stage, one ``<stage>_index``
per global stage (dedup across all sources; the stage itself then applies that index per
source), ``tokenizer`` (global) and ``tokenized`` (per source). Order is topological
(stdlib ``graphlib``), ties broken by the spec's own order so it is deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from graphlib import CycleError, TopologicalSorter
from typing import TYPE_CHECKING

from corpus.ops import registry

if TYPE_CHECKING:
    from corpus.spec import PipelineSpec, StageSpec

RAW = "raw"
TOKENIZER = "tokenizer"
TOKENIZED = "tokenized"


def is_global_op(op_name: str) -> bool:
    """True when the operator works across all sources at once (unknown operators: False)."""
    try:
        return registry.get_operator(op_name).kind == "global"
    except registry.UnknownOperatorError:
        return False


def is_global_stage(stage: StageSpec) -> bool:
    """A stage is global when any of its steps is (validation allows such a step only alone)."""
    return any(is_global_op(step.op) for step in stage.steps)


def index_name(stage_name: str) -> str:
    """The asset name of a global stage's index."""
    return f"{stage_name}_index"


@dataclass(frozen=True)
class StageNode:
    name: str
    position: int  # index into spec.stages
    input: str  # the asset this stage reads: "raw" or another stage
    is_global: bool

    @property
    def index(self) -> str | None:
        """The global index asset this stage applies, or None."""
        return index_name(self.name) if self.is_global else None


class StageGraphError(ValueError):
    """The stages do not form a graph: a cycle, or an input naming no stage."""


class StageGraph:
    """The build-loop asset graph of one spec (the learning loop's assets are not part of it)."""

    def __init__(self, spec: PipelineSpec):
        self.spec = spec
        self.nodes: dict[str, StageNode] = {}
        for i, stage in enumerate(spec.stages):
            if stage.name not in self.nodes:  # a duplicate name is a spec issue, reported by validation
                self.nodes[stage.name] = StageNode(stage.name, i, spec.stage_input(i), is_global_stage(stage))

    # -- per stage -------------------------------------------------------------
    def node(self, name: str) -> StageNode:
        try:
            return self.nodes[name]
        except KeyError:
            raise KeyError(
                f"no stage {name!r} in pipeline {self.spec.pipeline!r}; stages: {', '.join(self.nodes)}"
            ) from None

    def input_of(self, name: str) -> str:
        return self.node(name).input

    def is_global(self, name: str) -> bool:
        return name in self.nodes and self.nodes[name].is_global

    @property
    def global_stages(self) -> list[str]:
        return [n.name for n in self.nodes.values() if n.is_global]

    @property
    def index_names(self) -> set[str]:
        return {index_name(n) for n in self.global_stages}

    # -- whole graph -----------------------------------------------------------
    @cached_property
    def deps(self) -> dict[str, tuple[str, ...]]:
        """``{asset: assets it reads}`` over the whole build loop."""
        out: dict[str, tuple[str, ...]] = {RAW: ()}
        for node in self.nodes.values():
            if node.is_global:
                out[index_name(node.name)] = (node.input,)
                out[node.name] = (node.input, index_name(node.name))
            else:
                out[node.name] = (node.input,)
        tok_in = self.spec.tokenizer_input
        out[TOKENIZER] = (tok_in,)
        out[TOKENIZED] = (TOKENIZER, tok_in)
        return out

    def is_partitioned(self, asset: str) -> bool:
        """Per-source assets are partitioned by source; indexes and the tokenizer are not."""
        return asset != TOKENIZER and asset not in self.index_names

    def lineage(self, start: str) -> list[str]:
        """``start`` and the stages it reads from, nearest first; stops at raw, an unknown input or a repeat."""
        path = [start]
        node = self.input_of(start)
        while node in self.nodes and node not in path:
            path.append(node)
            node = self.input_of(node)
        return path

    def cycle_from(self, start: str) -> list[str] | None:
        """``[start, its input, ..., start]`` when following stage inputs comes back to ``start``, else None."""
        path = self.lineage(start)
        return [*path, start] if self.input_of(path[-1]) == start else None

    def _sorter(self) -> TopologicalSorter[str]:
        known = set(self.deps)
        return TopologicalSorter({a: [d for d in ds if d in known] for a, ds in self.deps.items()})

    def order(self) -> list[str]:
        """Every build-loop asset in dependency order; ties follow the spec's order."""
        sorter = self._sorter()
        try:
            sorter.prepare()
        except CycleError as exc:
            raise StageGraphError(
                f"pipeline {self.spec.pipeline!r}: stage cycle " + " -> ".join(reversed(exc.args[1]))
            ) from None
        rank = {name: i for i, name in enumerate(self.deps)}
        out: list[str] = []
        while sorter.is_active():
            ready = sorted(sorter.get_ready(), key=rank.__getitem__)
            out.extend(ready)
            sorter.done(*ready)
        return out

    def stage_order(self) -> list[str]:
        """The stages alone (no raw, index, tokenizer), in dependency order."""
        return [a for a in self.order() if a in self.nodes]


def stage_graph(spec: PipelineSpec) -> StageGraph:
    return StageGraph(spec)
