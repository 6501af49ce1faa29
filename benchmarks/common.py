"""Shared helpers: machine description, summary statistics, saving results."""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import statistics
import tempfile
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def machine() -> dict:
    info = {"platform": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count()}
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
        with open("/proc/meminfo", encoding="utf-8") as fh:
            info["memory_gib"] = round(int(fh.readline().split()[1]) / 2**20, 1)
    except OSError:
        pass
    return info


def machine_name() -> str:
    return os.environ.get("RESTORER_BENCH_MACHINE") or f"{platform.node() or 'machine'}-{os.cpu_count()}cpu"


def summary(values: list[float]) -> dict:
    values = sorted(values)
    p95 = values[min(len(values) - 1, int(round(0.95 * (len(values) - 1))))]
    return {
        "median": statistics.median(values),
        "min": values[0],
        "max": values[-1],
        "p95": p95,
        "n": len(values),
    }


def add_child_options(parser: argparse.ArgumentParser, kinds: tuple[str, ...], note_example: str) -> None:
    """The options of a benchmark that runs its phases in child processes: --cache (the generated photos),
    --note, --no-save, and the hidden ones a child is started with."""
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "restorer-bench-batch")
    parser.add_argument("--note", default="", help=f"conditions worth recording (e.g. '{note_example}')")
    parser.add_argument("--no-save", action="store_true", help="print only, do not write results/")
    parser.add_argument("--child", choices=kinds, help=argparse.SUPPRESS)
    for name in ("--folder", "--weights", "--out", "--result"):
        parser.add_argument(name, type=Path, help=argparse.SUPPRESS)


def save(name: str, payload: dict) -> Path:
    """Write results/<name>-<machine>-<date>.json and return its path."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    date = _dt.date.today().isoformat()
    out = RESULTS / f"{name}-{machine_name()}-{date}.json"
    payload = {"benchmark": name, "date": date, "machine": machine(), **payload}
    out.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    return out
