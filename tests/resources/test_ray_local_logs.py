"""``LocalRayCluster`` pairs each node process with its own log, also after a stop and a restart
(no Ray needed: the nodes here are plain Python processes)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from resources.ray_local import LocalRayCluster, NodeStartError


def _exiting(message: str, code: int = 3) -> list[str]:
    return [sys.executable, "-c", f"import sys; print({message!r}); sys.exit({code})"]


def test_a_node_that_exits_is_reported_with_its_own_log_after_a_restart(tmp_path: Path) -> None:
    cluster = LocalRayCluster(workers=1, start_timeout_s=30)
    for attempt in ("first", "second"):
        folder = tmp_path / attempt
        folder.mkdir()
        cluster.temp_dir = str(folder)
        cluster._spawn(_exiting(f"{attempt} node log"), {}, "head")
        cluster.procs[-1].wait(timeout=30)
        with pytest.raises(RuntimeError, match=f"(?s)exit 3.*{attempt} node log"):
            cluster._wait_for_nodes(1)
        cluster.stop()
        assert cluster.procs == [] and cluster.logs == []


def test_a_node_that_cannot_start_leaves_no_unpaired_log(tmp_path: Path) -> None:
    cluster = LocalRayCluster(workers=1)
    cluster.temp_dir = str(tmp_path)
    with pytest.raises(FileNotFoundError):
        cluster._spawn([str(tmp_path / "no-such-command")], {}, "head")
    assert cluster.procs == [] and cluster.logs == []


def test_a_node_that_exits_while_starting_makes_the_cluster_start_once_more(capsys) -> None:
    calls: list[int] = []

    class Flaky(LocalRayCluster):
        def _start_once(self) -> None:
            calls.append(1)
            if len(calls) == 1:
                raise NodeStartError(1, "starting\ntimed out")

    Flaky(workers=1).start()
    assert len(calls) == 2
    assert "exited while starting (exit 1): timed out; starting the cluster again" in capsys.readouterr().err

    calls.clear()

    class Broken(LocalRayCluster):
        def _start_once(self) -> None:
            calls.append(1)
            raise NodeStartError(1, "broken")

    with pytest.raises(NodeStartError, match="broken"):
        Broken(workers=1, start_attempts=2).start()
    assert len(calls) == 2  # a node that never starts is reported after the second attempt, not retried for ever
