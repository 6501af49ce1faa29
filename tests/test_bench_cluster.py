"""The cluster benchmark runs its three phases end to end on a tiny folder (needs the cluster extra)."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("ray")

from benchmarks import bench_cluster  # noqa: E402


@pytest.mark.cluster
def test_cluster_benchmark_measures_local_and_one_and_two_workers(tmp_path):
    payload = bench_cluster.measure(3, 96, 64, tmp_path / "cache", nc=[4, 8, 8, 8], nb=1)
    phases = payload["phases"]
    assert set(phases) == {"local", "cluster-1", "cluster-2"}
    assert all(p["files"] == 3 and p["work"]["files_per_minute"] > 0 for p in phases.values())
    assert len(phases["cluster-2"]["workers_ready_after_seconds"]) >= 1
    assert phases["cluster-1"]["start_seconds"] > phases["local"]["start_seconds"]  # Ray and a worker start
    assert isinstance(payload["cluster_overhead_per_file_seconds"], float)
    json.dumps(payload)
    assert not [p for p in (tmp_path / "cache").iterdir() if p.name.startswith("tmp")]  # outputs removed
