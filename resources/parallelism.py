"""How many things run at once: the one place that sizes every layer of parallelism.

Three layers can each claim every core: concurrent Dagster runs (the command line's run
workers), the shard workers of a stage inside one run (``ComputeEngine``'s ``processes``
backend) and the threads of the libraries in each process (polars, BLAS). Left alone they
multiply (cores x cores x cores). :func:`plan` splits the cores so that
``runs x shard_workers x threads <= cores``; the orchestration reads ``runs``, the compute
engine reads ``shard_workers``, and the run workers export ``threads`` to the libraries
before these start. Steps inside a run execute in the run's process (Dagster's
``in_process`` executor), so Dagster adds no layer of its own.

Settings (read when a plan is made, never at import):

* ``CORPUS_MAX_CONCURRENT_RUNS``: Dagster runs at once (the command line's default: the
  usable cores, at most the number of sources);
* ``CORPUS_SHARD_WORKERS``: shard worker processes per run (default: the cores left per run).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

RUNS_ENV = "CORPUS_MAX_CONCURRENT_RUNS"
SHARD_WORKERS_ENV = "CORPUS_SHARD_WORKERS"
# the libraries whose thread pools a run worker sizes before importing them
THREAD_VARS = ("POLARS_MAX_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "RAYON_NUM_THREADS")


@dataclass(frozen=True)
class Parallelism:
    cores: int
    runs: int  # Dagster runs at once
    shard_workers: int  # shard worker processes per run (processes backend)
    threads: int  # library threads per process

    def thread_env(self) -> dict[str, str]:
        """Environment that caps the library thread pools of a worker process at ``threads``."""
        return dict.fromkeys(THREAD_VARS, str(self.threads))

    def describe(self) -> str:
        return (
            f"{self.runs} run(s) at once x {self.shard_workers} shard worker(s) x {self.threads} thread(s) "
            f"on {self.cores} core(s)"
        )


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity where the OS tells it)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _env_int(name: str) -> int | None:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return None
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"${name} must be a whole number of at least 1, not {raw!r}") from None
    if value < 1:
        raise ValueError(f"${name} must be a whole number of at least 1, not {raw!r}")
    return value


def plan(
    runs: int | None = None,
    *,
    partitions: int | None = None,
    shard_workers: int | None = None,
    cores: int | None = None,
) -> Parallelism:
    """Split ``cores`` (default: usable cores) between concurrent runs, shard workers and threads.

    ``runs`` (else ``$CORPUS_MAX_CONCURRENT_RUNS``, else the cores) is capped by ``partitions``
    (no more runs at once than there are sources to run) and by the cores; ``shard_workers``
    (else ``$CORPUS_SHARD_WORKERS``, else the cores left per run) by the cores left per run."""
    cores = max(1, cores or usable_cores())
    if runs is not None and runs < 1:
        raise ValueError(f"runs at once must be at least 1, not {runs}")
    want_runs = runs or _env_int(RUNS_ENV) or cores
    if partitions is not None:
        want_runs = min(want_runs, max(1, partitions))
    n_runs = max(1, min(want_runs, cores))
    per_run = max(1, cores // n_runs)
    n_workers = max(1, min(shard_workers or _env_int(SHARD_WORKERS_ENV) or per_run, per_run))
    threads = max(1, per_run // n_workers)
    return Parallelism(cores=cores, runs=n_runs, shard_workers=n_workers, threads=threads)


def shard_workers() -> int:
    """Shard worker processes for the run in this process: the cores left by the runs going at once
    (``$CORPUS_MAX_CONCURRENT_RUNS``, which the orchestration exports to its run workers; unset, this
    run is the only one)."""
    return plan(_env_int(RUNS_ENV) or 1).shard_workers


def exported(p: Parallelism) -> dict[str, str]:
    """The environment of a process that executes runs under plan ``p``: what :func:`shard_workers`
    and the libraries read there."""
    return {RUNS_ENV: str(p.runs), SHARD_WORKERS_ENV: str(p.shard_workers), **p.thread_env()}
