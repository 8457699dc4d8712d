"""The demo's last table: each version's target loss and its difference to m0001 with an interval."""

from __future__ import annotations

import re

from rich.console import Console

from corpus.feedback import FeedbackState, VersionState
from corpus.spec import MixtureSpec, PipelineSpec, SourceSpec
from platform_assets.learning_demo import comparison_table


def _version(name: str, loss: float, se: float | None) -> VersionState:
    return VersionState(
        version=name,
        weights={"a": 0.5, "b": 0.5},
        run_key=f"{name}-k",
        val_loss={"a": loss + 0.1, "b": loss - 0.1},
        val_loss_se=None if se is None else {"a": se, "b": se},
    )


def _render(state: FeedbackState) -> str:
    spec = PipelineSpec(
        pipeline="p",
        sources=[SourceSpec(name="a", location="x", format="text"), SourceSpec(name="b", location="y", format="text")],
        mixture=MixtureSpec(),
    )
    console = Console(record=True, width=200)
    console.print(comparison_table(state, spec))
    return console.export_text()


def test_table_says_no_difference_when_the_interval_covers_zero():
    text = _render(
        FeedbackState(
            versions=[_version("m0001", 3.0, 0.02), _version("m0002", 2.99, 0.02), _version("m0003", 2.8, 0.02)]
        )
    )
    lines = {m.group(0): line for line in text.splitlines() if (m := re.search(r"m000\d", line))}
    assert "reference" in lines["m0001"]
    assert "-0.0100" in lines["m0002"] and "no difference shown" in lines["m0002"]
    assert "-0.2000" in lines["m0003"] and "better than the first version" in lines["m0003"]
    assert "evaluation noise" in text


def test_table_without_standard_errors_claims_nothing():
    text = _render(FeedbackState(versions=[_version("m0001", 3.0, None), _version("m0002", 2.5, None)]))
    assert "no interval (no standard errors)" in text and "better" not in text
