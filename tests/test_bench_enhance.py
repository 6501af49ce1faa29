"""The enhancement speed benchmark runs end to end and records what it measured."""

from __future__ import annotations

import json

from benchmarks import bench_enhance


def test_measure_times_the_operation_at_each_size():
    payload = bench_enhance.measure([0.02, 0.05], repeats=1, threads=1)
    assert set(payload["sizes"]) == {"0.02", "0.05"}
    row = payload["sizes"]["0.05"]
    assert row["s_per_mp"]["best"] > 0 and row["cpu_s_per_mp"]["best"] > 0 and "x" in row["size"]
    assert payload["target_s_per_mp"] == 0.3 and len(payload["load_average"]) == 3
    json.dumps(payload)
