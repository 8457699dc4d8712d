import math

import pytest

from corpus.stats import mean_interval, paired_interval, standard_error, tokens_to_target


def test_paired_interval_matches_t_distribution():
    a = [1.0, 2.0, 3.0, 4.0, 5.0]
    b = [0.5, 1.5, 2.0, 3.5, 4.0]
    iv = paired_interval(a, b)
    diffs = [0.5, 0.5, 1.0, 0.5, 1.0]
    mean = sum(diffs) / 5
    sd = math.sqrt(sum((d - mean) ** 2 for d in diffs) / 4)
    half = 2.7764451051977987 * sd / math.sqrt(5)  # t(0.975, 4)
    assert iv.mean == pytest.approx(mean)
    assert iv.low == pytest.approx(mean - half)
    assert iv.high == pytest.approx(mean + half)
    assert iv.excludes_zero and iv.verdict(lower_is_better=True) == "worse"


def test_interval_covering_zero_says_no_difference():
    iv = paired_interval([1.0, 2.0, 3.0], [1.1, 1.9, 3.05])
    assert iv.low < 0 < iv.high
    assert iv.verdict() == "no difference shown"


def test_single_pair_has_no_interval():
    iv = paired_interval([1.0], [0.0])
    assert not iv.excludes_zero and math.isinf(iv.high)
    assert standard_error([1.0]) == math.inf


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="pair runs by seed"):
        paired_interval([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="finite"):
        mean_interval([1.0, float("nan")])


def test_tokens_to_target_interpolates_between_evaluations():
    curve = [(100, 5.0), (200, 4.0), (300, 3.0)]
    assert tokens_to_target(curve, 3.5) == pytest.approx(250.0)
    assert tokens_to_target(curve, 5.5) == 100.0
    assert tokens_to_target(curve, 2.0) is None
