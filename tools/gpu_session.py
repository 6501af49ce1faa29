"""Python side of tools/gpu_session.sh: what the machine has, a training run's summary line, and a
validation figure (held-out crops: input | start | trained | target).

    python3 tools/gpu_session.py env
    python3 tools/gpu_session.py train-summary RUN_DIR
    python3 tools/gpu_session.py figure RUN_DIR CACHE.npy OUT.png

Needs torch, numpy and Pillow only (no PySide6, platformdirs or spandrel: a lent GPU machine has none).
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import os
import platform
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def _importable(name: str) -> bool:
    try:
        importlib.import_module(name)
    except Exception:  # noqa: BLE001 - missing, stubbed out or broken: not usable here
        return False
    return True


def cmd_env(_args: argparse.Namespace) -> int:
    import torch

    print(f"python {platform.python_version()} on {platform.platform()}, {os.cpu_count()} CPUs")
    print(f"torch {torch.__version__} (CUDA build {torch.version.cuda}), cuDNN {torch.backends.cudnn.version()}")
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            p = torch.cuda.get_device_properties(i)
            print(f"cuda:{i} {p.name}, {p.total_memory / 2**30:.1f} GiB, compute {p.major}.{p.minor}, "
                  f"bf16 {'yes' if torch.cuda.is_bf16_supported() else 'no'}")
    else:
        print("CUDA: not available")
    found = {name: _importable(name) for name in ("numpy", "PIL", "safetensors", "tqdm", "torchvision", "cv2", "pytest",
                                                  "PySide6", "platformdirs", "spandrel", "tifffile", "skimage")}
    print("modules: " + ", ".join(f"{k} {'yes' if v else 'no'}" for k, v in found.items()))
    return 0


def _rows(run: Path) -> list[dict]:
    path = run / "log.jsonl"
    if not path.is_file():
        return []
    out = []
    for line in path.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out


def summary(run: Path) -> dict:
    """Steps, speed and the validation metric at the start, at its best and at the end."""
    from restorer_gui.training.trainer import TASKS

    cfg = json.loads((run / "config.json").read_text())
    metric = TASKS[cfg["task"]].metric
    rows = _rows(run)
    losses = [r for r in rows if "loss" in r]
    vals = [r for r in rows if "val" in r]
    init = next((r["val"][metric] for r in vals if "init" in r), None)
    trained = [r for r in vals if "init" not in r]
    best = max(trained, key=lambda r: r["val"][metric]) if trained else None
    out = {"task": cfg["task"], "metric": metric, "steps": losses[-1]["step"] if losses else 0,
           "seconds": losses[-1]["time"] if losses else 0.0, "batch": cfg["batch"], "patch": cfg["patch"],
           "init": init, "best": best["val"][metric] if best else None, "best_step": best["step"] if best else None,
           "last": trained[-1]["val"][metric] if trained else None}
    out["steps_per_s"] = round(out["steps"] / out["seconds"], 2) if out["seconds"] else None
    return out


def cmd_train_summary(args: argparse.Namespace) -> int:
    run = Path(args.run)
    if not (run / "config.json").is_file():
        print(f"{run.name}: no run")
        return 1
    s = summary(run)

    def f(v: float | None) -> str:
        return "–" if v is None else f"{v:.4f}"

    print(f"{s['task']}: {s['steps']} steps of {s['batch']}×{s['patch']} px in {s['seconds']:.0f} s "
          f"({s['steps_per_s']} steps/s); held-out {s['metric']}: start {f(s['init'])} → best {f(s['best'])} "
          f"(step {s['best_step']}), last {f(s['last'])}")
    (run / "summary.json").write_text(json.dumps(s, indent=2) + "\n")
    return 0


def _to_rgb(t) -> "np.ndarray":  # noqa: F821 - numpy is imported in the caller
    import numpy as np

    a = t.detach().float().clamp(0, 1).cpu().numpy()
    a = np.repeat(a, 3, axis=0) if a.shape[0] == 1 else a
    return (a.transpose(1, 2, 0) * 255 + 0.5).astype(np.uint8)


def cmd_figure(args: argparse.Namespace) -> int:
    import numpy as np
    import torch
    from PIL import Image, ImageDraw

    from restorer_gui.inference import archs
    from restorer_gui.training import datasets as ds
    from restorer_gui.training import trainer as tr
    from restorer_gui.training.export import load_checkpoint_model

    run = Path(args.run)
    raw = json.loads((run / "config.json").read_text())
    names = {f.name for f in dataclasses.fields(tr.TrainConfig)}
    cfg = tr.TrainConfig(**{k: v for k, v in raw.items() if k in names})
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    task = tr.TASKS[cfg.task](cfg, device)
    batches = task.val_batches(ds.PatchBank.load(args.cache).split()[1])
    if cfg.task == "inpaint":  # two crops of each mask kind
        firsts = [next(b for b in batches if b.get("kind") == k) for k in range(3)]
        picked = [{k: (v[:2] if torch.is_tensor(v) else v) for k, v in b.items()} for b in firsts]
    else:
        picked = [{k: (v[:4] if torch.is_tensor(v) else v) for k, v in batches[0].items()}]
    after, _ = load_checkpoint_model(run / "best.pt")
    models = {"trained": after.to(device)}
    if cfg.init:
        start = archs.build(cfg.arch, **cfg.hparams)
        tr._init_from(start, cfg.init)
        models = {"start": start.eval().to(device), **models}
    cols: list[list] = []
    with torch.inference_mode():
        for b in picked:
            if cfg.task == "denoise":
                shown, target = b["noisy"], b["clean"]
                outs = [m(b["noisy"], b["sigma"]) for m in models.values()]
            elif cfg.task == "inpaint":
                magenta = torch.tensor([1.0, 0.0, 1.0], device=device)[None, :, None, None]
                shown, target = b["clean"] * (1 - b["mask"]) + b["mask"] * magenta, b["clean"]
                outs = [m(b["clean"], b["mask"]) for m in models.values()]
            else:
                shown, target = b["image"], b["mask"]
                outs = [torch.sigmoid(m(b["image"]).float()) for m in models.values()]
            for i in range(shown.shape[0]):
                cols.append([_to_rgb(t[i]) for t in (shown, *outs, target)])
    labels = ["input", *models, "target"]
    p = cols[0][0].shape[0]
    head = 14
    sheet = Image.new("RGB", (len(labels) * (p + 4), head + len(cols) * (p + 4)), "white")
    draw = ImageDraw.Draw(sheet)
    for j, label in enumerate(labels):
        draw.text((j * (p + 4) + 2, 1), label, fill="black")
    for i, row in enumerate(cols):
        for j, tile in enumerate(row):
            sheet.paste(Image.fromarray(tile), (j * (p + 4) + 2, head + i * (p + 4) + 2))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(out)
    print(f"wrote {out}: {len(cols)} held-out crops, columns {', '.join(labels)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tools/gpu_session.py", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("env").set_defaults(func=cmd_env)
    s = sub.add_parser("train-summary")
    s.add_argument("run")
    s.set_defaults(func=cmd_train_summary)
    f = sub.add_parser("figure")
    f.add_argument("run")
    f.add_argument("cache")
    f.add_argument("out")
    f.set_defaults(func=cmd_figure)
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
