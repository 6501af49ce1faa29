"""Time from launching `restorer-gui` to a painted window, and whether torch was imported by then.

Run: python -m benchmarks.bench_startup [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import save, summary


def one_run(image: str | None) -> tuple[float, float, bool]:
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, QT_QPA_PLATFORM=os.environ.get("QT_QPA_PLATFORM", "offscreen"), RESTORER_HOME=tmp)
        env["RESTORER_STARTUP_T0"] = repr(time.time())
        start = time.perf_counter()
        args = [sys.executable, "-m", "restorer_gui", "--screenshot", str(Path(tmp) / "shot.png")]
        if image:
            args.insert(3, image)
        proc = subprocess.run(args, env=env, capture_output=True, text=True, check=True)
        total = time.perf_counter() - start
    line = next(l for l in proc.stdout.splitlines() if l.startswith("window-painted"))
    parts = line.split()
    return float(parts[1]), total, parts[5] == "True"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--image", help="also open this photo")
    args = parser.parse_args()
    one_run(args.image)  # warm the file cache
    painted, total, torch_loaded = [], [], False
    for _ in range(args.runs):
        p, t, loaded = one_run(args.image)
        painted.append(p)
        total.append(t)
        torch_loaded |= loaded
    result = {
        "window_painted_s": summary(painted),
        "process_total_s": summary(total),
        "torch_imported_before_window": torch_loaded,
        "image": args.image,
    }
    out = save("startup", result)
    print(f"window painted: median {result['window_painted_s']['median']:.3f} s "
          f"(min {result['window_painted_s']['min']:.3f}, max {result['window_painted_s']['max']:.3f}); "
          f"torch imported: {torch_loaded}; saved {out}")


if __name__ == "__main__":
    main()
