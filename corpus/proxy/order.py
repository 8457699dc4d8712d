"""The order a training run visits its windows in.

``keyed``: every window gets a seeded random key from (seed, domain, window index, pass) and a
pass visits windows by key. A longer stream of a domain (a mixture giving it more tokens) only
adds windows, so two mixtures trained with one seed visit the windows they share in the same
relative order: common random numbers, which make paired runs differ by the mixture rather than
by an unrelated shuffle.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping

import numpy as np


def window_keys(domain: str, n: int, seed: int, pass_no: int) -> np.ndarray:
    """Random keys of a domain's first ``n`` windows in pass ``pass_no``; the first ``m < n`` keys do not depend
    on ``n`` (a longer stream of the same domain and seed extends its windows and their keys)."""
    return np.random.default_rng([seed, pass_no, zlib.crc32(domain.encode())]).random(n)


def keyed_order(domain: str, starts: np.ndarray, seed: int, pass_no: int) -> np.ndarray:
    """One pass over one domain's windows (their ``starts``), in the order of their keys."""
    return starts[np.argsort(window_keys(domain, len(starts), seed, pass_no))]


def keyed_pass(windows: Mapping[str, np.ndarray], names: list[str], seed: int, pass_no: int) -> np.ndarray:
    """One pass over every window of ``names`` as ``(domain index, start)`` rows, in the order of their keys."""
    rows = np.concatenate([np.stack([np.full(len(windows[d]), i), windows[d]], axis=1) for i, d in enumerate(names)])
    keys = np.concatenate([window_keys(d, len(windows[d]), seed, pass_no) for d in names])
    return rows[np.argsort(keys, kind="stable")]
