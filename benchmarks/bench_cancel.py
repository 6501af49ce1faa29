"""How fast Cancel answers inside one large inpainting pass (issue #18: within a second on this CPU).

A photo with one wide hole is inpainted by the installed inpainter on the CPU in a single crop (one
network pass); a second thread sets the cancel token after --after seconds and the benchmark records
the time from setting it to the job raising `JobCancelled`, and how far the progress had moved.

Run: python -m benchmarks.bench_cancel [--size 1024] [--after 1.5] [--runs 3] [--note TEXT]
"""

from __future__ import annotations

import argparse
import threading
import time

import numpy as np

from benchmarks.common import save, summary


def one_run(model, size: int, after: float) -> tuple[float, float, float]:
    from restorer_gui.inference.jobs import CancelToken, JobCancelled
    from restorer_gui.inference.ops.inpaint import inpaint

    rng = np.random.default_rng(0)
    photo = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
    mask = np.zeros((size, size), np.uint8)
    mask[size // 4 : 3 * size // 4, size // 3 : 2 * size // 3] = 255  # one wide hole: one crop, one pass
    token = CancelToken()
    seen = [0.0]
    set_at = [0.0]

    def cancel_later() -> None:
        time.sleep(after)
        set_at[0] = time.perf_counter()
        token.cancel()

    timer = threading.Thread(target=cancel_later, daemon=True)
    start = time.perf_counter()
    timer.start()
    try:
        inpaint(photo, mask, model, max_side=size, cancel=token,
                progress=lambda f, _m: seen.__setitem__(0, max(seen[0], f)))
        finished = time.perf_counter()
        return float("nan"), finished - start, seen[0]  # finished before the cancel came
    except JobCancelled:
        return time.perf_counter() - set_at[0], time.perf_counter() - start, seen[0]
    finally:
        timer.join()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=1024, help="the photo's side in pixels")
    parser.add_argument("--after", type=float, default=1.5, help="seconds before Cancel")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--model", default="inpaint-smooth-s", help="inpainting model id or file")
    parser.add_argument("--note", default="", help="conditions worth recording (e.g. 'training running')")
    args = parser.parse_args()
    from restorer_gui.inference import loader

    model = loader.load_model(args.model, "cpu")
    from restorer_gui.inference.ops.inpaint import inpaint

    photo = np.zeros((64, 64, 3), np.uint8)
    hole = np.zeros((64, 64), np.uint8)
    hole[20:40, 20:40] = 255
    inpaint(photo, hole, model)  # warm-up
    latency, elapsed, reached = [], [], []
    for _ in range(args.runs):
        lat, total, prog = one_run(model, args.size, args.after)
        latency.append(lat)
        elapsed.append(total)
        reached.append(prog)
    result = {
        "model": model.id,
        "size_px": args.size,
        "cancel_after_s": args.after,
        "cancel_latency_s": summary(latency),
        "job_time_s": summary(elapsed),
        "progress_at_cancel": reached,
        "note": args.note,
    }
    out = save("cancel", result)
    print(f"{model.id}, {args.size}² px, one pass: Cancel answered in median "
          f"{result['cancel_latency_s']['median']:.3f} s (max {result['cancel_latency_s']['max']:.3f}); "
          f"progress had reached {', '.join(f'{p:.0%}' for p in reached)}; saved {out}")


if __name__ == "__main__":
    main()
