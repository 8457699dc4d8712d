"""The version the loop recommends: the first unless a later one is shown better."""

from __future__ import annotations

import math

from corpus.mixing.choice import choose_version
from corpus.mixing.compare import compare_to_first
from corpus.mixing.history import RoundResult
from corpus.mixing.target import Target

D = ["a", "b"]


def _r(version: str, loss: float, se: float) -> RoundResult:
    return RoundResult(
        version=version, weights={d: 0.5 for d in D}, val_loss={d: loss for d in D}, val_loss_se={d: se for d in D}
    )


def _choose(*history: RoundResult):
    return choose_version(compare_to_first(list(history), Target("average"), D))


def test_a_lower_loss_inside_the_noise_keeps_the_first_version():
    choice = _choose(_r("m0001", 3.0, 0.05), _r("m0002", 2.95, 0.05))
    assert choice is not None and choice.version == "m0001" and "no later version" in choice.reason


def test_the_lowest_version_shown_better_is_chosen():
    choice = _choose(_r("m0001", 3.0, 0.01), _r("m0002", 2.9, 0.01), _r("m0003", 2.8, 0.01), _r("m0004", 3.2, 0.01))
    assert choice is not None and choice.version == "m0003" and "better than m0001 by 0.2000" in choice.reason


def test_versions_without_standard_errors_are_never_chosen():
    choice = _choose(_r("m0001", 3.0, math.inf), _r("m0002", 1.0, math.inf))
    assert choice is not None and choice.version == "m0001"
    assert choose_version([]) is None


def test_the_chosen_version_is_never_worse_than_the_first_beyond_its_interval():
    rng = [(3.0 + 0.1 * math.sin(7 * i), 0.02 + 0.01 * (i % 3)) for i in range(12)]
    history = [_r(f"m{i + 1:04d}", loss, se) for i, (loss, se) in enumerate(rng)]
    rows = compare_to_first(history, Target("average"), D)
    choice = choose_version(rows)
    assert choice is not None
    row = next(r for r in rows if r.version == choice.version)
    assert row.version == "m0001" or row.high < 0
    assert row.target == min(r.target for r in rows if r.version == "m0001" or r.high < 0)
