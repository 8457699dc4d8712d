"""Memory and CPU of a process and all its descendants, sampled from ``/proc`` (Linux).

Used by ``bench_scaling``: peak RSS / PSS of the whole process tree, core-seconds, how
many processes were busy, and the rest of the machine's load over the same interval.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


@dataclass
class TreeSample:
    t: float
    pids: int
    rss: int  # bytes, summed over the tree
    pss: int | None  # bytes, summed over the tree (None where smaps_rollup is unreadable)
    max_rss: int  # bytes, the largest single process
    cpu: float  # cumulative core-seconds of the tree so far (processes that exited keep their last value)
    system_busy: float  # cumulative busy core-seconds of the whole machine
    active: int  # processes of the tree that used at least 10% of a core since the previous sample
    runnable: int  # processes of the tree running or waiting for a core at the sample (state R)


@dataclass
class TreeSampler:
    """Samples memory and CPU of a process and all its descendants from ``/proc``.

    Linux only: the benchmark measures what a data platform worker sees, which is Linux.
    The CPU time of a process is remembered after it exits (its last sample), so
    short-lived workers are counted up to the sampling interval.
    """

    root: int
    interval: float = 0.2
    samples: list[TreeSample] = field(default_factory=list)
    _cpu_seen: dict[tuple[int, int], float] = field(default_factory=dict)  # (pid, start time) -> core-seconds
    _last_t: float = 0.0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __post_init__(self) -> None:
        if not Path("/proc/self/stat").exists():
            raise RuntimeError("bench_scaling samples /proc and runs on Linux only")

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="tree-sampler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join()

    def _loop(self) -> None:
        t0 = time.perf_counter()
        while not self._stop.is_set():
            sample = self.sample(time.perf_counter() - t0)
            if sample is not None:
                self.samples.append(sample)
            self._stop.wait(self.interval)

    def sample(self, t: float) -> TreeSample | None:
        stats = _all_stats()
        tree = _descendants(self.root, stats)
        if not tree:
            return None
        rss = pss = max_rss = active = runnable = 0
        pss_ok = True
        dt = max(t - self._last_t, 1e-6)
        self._last_t = t
        for pid in tree:
            st = stats[pid]
            before = self._cpu_seen.get((pid, st.start))
            if before is not None and st.cpu - before >= 0.1 * dt:
                active += 1
            runnable += st.state == "R"
            self._cpu_seen[(pid, st.start)] = st.cpu
            rss += st.rss
            max_rss = max(max_rss, st.rss)
            p = _pss(pid)
            if p is None:
                pss_ok = False
            else:
                pss += p
        return TreeSample(
            t,
            len(tree),
            rss,
            pss if pss_ok else None,
            max_rss,
            sum(self._cpu_seen.values()),
            _system_busy(),
            active,
            runnable,
        )


@dataclass(frozen=True)
class _Stat:
    ppid: int
    state: str
    cpu: float
    rss: int
    start: int


def _all_stats() -> dict[int, _Stat]:
    out: dict[int, _Stat] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                raw = f.read().decode("ascii", "replace")
        except OSError:  # exited between listing and reading
            continue
        rest = raw[raw.rfind(")") + 2 :].split()
        # fields after the command name: state(3) ppid(4) ... utime(14) stime(15) ... starttime(22) vsize(23) rss(24)
        out[int(entry.name)] = _Stat(
            ppid=int(rest[1]),
            state=rest[0],
            cpu=(int(rest[11]) + int(rest[12])) / CLK_TCK,
            rss=int(rest[21]) * PAGE,
            start=int(rest[19]),
        )
    return out


def _descendants(root: int, stats: dict[int, _Stat]) -> list[int]:
    if root not in stats:
        return []
    children: dict[int, list[int]] = {}
    for pid, st in stats.items():
        children.setdefault(st.ppid, []).append(pid)
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, ()))
    return tree


def _pss(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as f:
            for line in f:
                if line.startswith(b"Pss:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def _system_busy() -> float:
    with open("/proc/stat", "rb") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / CLK_TCK


def summarize_samples(samples: list[TreeSample], wall: float, cores: int) -> dict[str, Any]:
    """Peak memory, average cores busy and how much of the run used more than one core."""
    if len(samples) < 2:
        return {"samples": len(samples)}
    busy_intervals = []
    for a, b in pairwise(samples):
        dt = b.t - a.t
        if dt > 0:
            busy_intervals.append(((b.cpu - a.cpu) / dt, dt))
    total = sum(dt for _, dt in busy_intervals) or 1.0
    tree_cpu = samples[-1].cpu - samples[0].cpu
    system_cpu = samples[-1].system_busy - samples[0].system_busy
    span = samples[-1].t - samples[0].t or 1.0
    pss = [s.pss for s in samples if s.pss is not None]
    step = max(1, len(samples) // 600)
    timeline = [
        [round(s.t, 2), round(s.rss / 1e6), round(s.cpu, 2), s.active, s.runnable, s.pids] for s in samples[::step]
    ]
    return {
        "samples": len(samples),
        "timeline_columns": ["t_s", "rss_mb", "cpu_s", "active_processes", "runnable_processes", "processes"],
        "timeline": timeline,
        "peak_rss_mb": max(s.rss for s in samples) / 1e6,
        "peak_pss_mb": max(pss) / 1e6 if pss else None,
        "peak_single_process_rss_mb": max(s.max_rss for s in samples) / 1e6,
        "max_processes": max(s.pids for s in samples),
        "cpu_seconds": samples[-1].cpu,
        "avg_cores_busy": samples[-1].cpu / wall if wall > 0 else 0.0,
        "share_time_ge_1_5_cores": sum(dt for c, dt in busy_intervals if c >= 1.5) / total,
        "share_time_ge_2_active_processes": sum(1 for s in samples[1:] if s.active >= 2) / (len(samples) - 1),
        "avg_active_processes": sum(s.active for s in samples[1:]) / (len(samples) - 1),
        "share_time_ge_2_runnable": sum(1 for s in samples if s.runnable >= 2) / len(samples),
        "avg_runnable_processes": sum(s.runnable for s in samples) / len(samples),
        "peak_cores_busy": max(c for c, _ in busy_intervals),
        "other_load_cores": max(0.0, (system_cpu - tree_cpu) / span),
        "cores": cores,
    }
