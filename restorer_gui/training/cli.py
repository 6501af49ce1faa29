"""`restorer train|eval|patches|export` subcommands; also runnable as ``python -m restorer_gui.training.cli``."""

from __future__ import annotations

import argparse
import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path

from restorer_gui.commandline import CommandError, run_command

__all__ = ["add_parsers", "main"]

_TASKS = ("denoise", "inpaint", "scratch", "enhance", "noise-estimate")
_DEFAULT_SETS = {"denoise": ["CBSD68", "Kodak24", "McMaster"], "inpaint": ["Kodak24"], "scratch": ["Kodak24"],
                 "repair": ["Kodak24"], "enhance": ["held-out", "Kodak24", "McMaster"],
                 "noise-estimate": ["Kodak24", "McMaster"]}


def _one_line_errors(cmd: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """A refused or unreadable model or checkpoint ends the command with one line, no traceback."""

    @functools.wraps(cmd)
    def run(args: argparse.Namespace) -> int:
        from restorer_gui.inference.safe_load import ModelLoadError

        try:
            return cmd(args)
        except ModelLoadError as exc:
            raise CommandError(str(exc)) from None

    return run


def add_parsers(subparsers: argparse._SubParsersAction) -> None:
    """Register ``train``, ``eval``, ``patches`` and ``export`` on an argparse subparsers object."""
    t = subparsers.add_parser("train", help="train a model (resumable; runs in the foreground)")
    t.add_argument("task", choices=_TASKS)
    t.add_argument("--steps", type=int, default=None, help="schedule length (learning-rate decay ends here)")
    t.add_argument("--stop-after", type=int, default=None, help="stop at this step (schedule still spans --steps)")
    t.add_argument("--batch", type=int, default=None)
    t.add_argument("--patch", type=int, default=None, help="square patch size in pixels")
    t.add_argument("--lr", type=float, default=None)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--out", default=None, help="run folder (default: checkpoints/<task>)")
    t.add_argument("--resume", action="store_true", help="continue from <out>/last.pt when it exists")
    t.add_argument("--device", default="auto", help="auto|cpu|cuda|mps")
    t.add_argument("--arch", default=None, help="architecture name (default per task)")
    t.add_argument("--hparams", default=None, help='architecture hyper-parameters as JSON, e.g. \'{"nb": 2}\'')
    t.add_argument("--data", nargs="+", default=None, help="training image folders (default ../shared/data/train)")
    t.add_argument("--patch-cache", default=None, help="N×P×P×3 uint8 .npy of patches to train from instead")
    t.add_argument("--threads", type=int, default=2)
    t.add_argument("--adv-start", type=int, default=None,
                   help="inpaint: train on the reconstruction loss alone until this step, then add the PatchGAN")
    t.add_argument("--amp", choices=["auto", "bf16", "off"], default="auto",
                   help="bf16 autocast (auto: on CUDA GPUs that support it; bf16 also speeds up CPUs with AVX512-BF16)")
    t.add_argument("--init", default=None,
                   help="a fresh run starts from these weights (.safetensors or checkpoint) where names and shapes match")
    t.add_argument("--val-every", type=int, default=None)
    t.add_argument("--ckpt-minutes", type=float, default=5.0)
    t.add_argument("--max-minutes", type=float, default=None,
                   help="time box: when this much wall time has passed, validate, write the weights, checkpoint and stop")
    t.add_argument("--workers", type=int, default=0,
                   help="processes that make batches ahead of the loop (the same batches; keeps a GPU busy)")
    t.add_argument("--no-progress", action="store_true")
    t.set_defaults(func=_one_line_errors(_cmd_train))

    e = subparsers.add_parser("eval", help="measure a model on the test sets against classical methods")
    e.add_argument("task", choices=(*_TASKS, "repair"))
    e.add_argument("--model", default=None,
                   help="models/ id, card, .safetensors file or trainer .pt checkpoint (repair: the detector; "
                        "default: the installed one)")
    e.add_argument("--inpainter", default=None, help="repair: the inpainting model (default: the installed one)")
    e.add_argument("--no-sheets", action="store_true",
                   help="repair, enhance, noise-estimate: skip the sheets of the real scans")
    e.add_argument("--calibrate", action="store_true",
                   help="repair: first choose the detector's cut and the mask margin on held-out training images; "
                        "noise-estimate: first fit the quantile and scale Auto reads from the map (both written "
                        "to the card with --update-card)")
    e.add_argument("--denoiser", default=None,
                   help="noise-estimate: the denoiser Auto's strength is for (default: the installed one)")
    e.add_argument("--sweep-step", type=float, default=2.0,
                   help="noise-estimate: step of the fixed strengths swept from 0 to 60 (default 2)")
    e.add_argument("--sets", nargs="+", default=None, help="test set names under ../shared/data/test, or folders")
    e.add_argument("--sigmas", nargs="+", type=float, default=None,
                   help="noise levels (default: denoise 15 25 50; noise-estimate, the grain's std at mid-grey: 10 20 30)")
    e.add_argument("--kinds", nargs="+", default=["thin", "medium", "wide"], help="inpainting mask kinds")
    e.add_argument("--max-images", type=int, default=None)
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("--out", default="runs/eval", help="folder for results.json and comparison grids")
    e.add_argument("--no-ssim", action="store_true")
    e.add_argument("--threshold", type=float, default=None,
                   help="scratch: probability cut (default: the best F1 on held-out training images, "
                        "written to the card with --update-card)")
    e.add_argument("--update-card", action="store_true", help="write the numbers into the model's card")
    e.add_argument("--threads", type=int, default=2)
    e.set_defaults(func=_one_line_errors(_cmd_eval))

    c = subparsers.add_parser("patches", help="write a compact patch cache to carry to a GPU machine (train --patch-cache)")
    c.add_argument("out", help="the .npy file to write")
    c.add_argument("--count", type=int, default=800,
                   help="number of crops (75 KiB each at the default 160 px: 800 make 59 MiB)")
    c.add_argument("--size", type=int, default=160, help="crop side in pixels (training patches are cut from these)")
    c.add_argument("--data", nargs="+", default=None, help="training image folders (default ../shared/data/train)")
    c.add_argument("--seed", type=int, default=0)
    c.set_defaults(func=_cmd_patches)

    x = subparsers.add_parser("export", help="checkpoint → models/<id>.safetensors + card")
    x.add_argument("checkpoint")
    x.add_argument("--id", required=True)
    x.add_argument("--name", default="")
    x.add_argument("--description", default="")
    x.add_argument("--reproduce", default="")
    x.add_argument("--notes", default="")
    x.add_argument("--models-dir", default="models")
    x.add_argument("--no-speed", action="store_true", help="leave the CPU speed out of the card (not this machine's)")
    x.set_defaults(func=_one_line_errors(_cmd_export))


_TRAIN_DEFAULTS = {
    "denoise": {"steps": 200_000, "batch": 16, "patch": 96, "lr": 4e-4, "val_every": 500},
    "inpaint": {"steps": 100_000, "batch": 8, "patch": 128, "lr": 2e-4, "val_every": 500},
    "scratch": {"steps": 20_000, "batch": 8, "patch": 128, "lr": 5e-4, "val_every": 250},
    "enhance": {"steps": 4_000, "batch": 16, "patch": 160, "lr": 1e-3, "val_every": 250},
    "noise-estimate": {"steps": 6_000, "batch": 32, "patch": 128, "lr": 1e-3, "val_every": 250},
}


def _cmd_train(args: argparse.Namespace) -> int:
    from restorer_gui.training.trainer import TrainConfig, train

    d = _TRAIN_DEFAULTS[args.task]
    cfg = TrainConfig(
        task=args.task,
        out=args.out or f"checkpoints/{args.task}",
        steps=args.steps or d["steps"],
        stop_after=args.stop_after,
        batch=args.batch or d["batch"],
        patch=args.patch or d["patch"],
        lr=args.lr or d["lr"],
        seed=args.seed,
        device=args.device,
        arch=args.arch,
        hparams=json.loads(args.hparams) if args.hparams else None,
        patch_cache=args.patch_cache,
        val_every=args.val_every or d["val_every"],
        ckpt_every_s=args.ckpt_minutes * 60,
        threads=args.threads,
        amp=args.amp,
        progress=not args.no_progress,
        init=args.init,
        max_minutes=args.max_minutes,
        workers=max(0, args.workers),
    )
    if args.adv_start is not None:
        cfg.adv_start = args.adv_start
    if args.data:
        cfg.data = list(args.data)
    result = train(cfg, resume=args.resume)
    print(json.dumps(result))
    return 0


def _cmd_eval(args: argparse.Namespace) -> int:
    import torch

    from restorer_gui.training import evaluate as ev
    from restorer_gui.training.export import update_card

    torch.set_num_threads(args.threads)
    if args.task == "repair":
        return _cmd_eval_repair(args)
    if args.task == "enhance":
        from restorer_gui.training.enhance_eval import cli_eval

        return cli_eval(args)
    if args.task == "noise-estimate":
        from restorer_gui.training.noise_eval import cli_eval as noise_cli_eval

        return noise_cli_eval(args)
    if args.model is None:
        raise CommandError(f"eval {args.task} needs --model")
    model, card = ev.load_model(args.model)
    sets = ev.resolve_sets(args.sets or _DEFAULT_SETS[args.task])
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.task == "denoise":
        res = ev.denoise_eval(model, sets, args.sigmas or [15, 25, 50], args.seed, args.max_images, out, ssim=not args.no_ssim)
    elif args.task == "inpaint":
        res = ev.inpaint_eval(model, sets, args.kinds, args.seed, args.max_images, out)
    else:
        tuning = None
        threshold = args.threshold
        if threshold is None:
            tuning = ev.tune_scratch_threshold(model)
            threshold = tuning["threshold"]
        real = ev.DEFAULT_TEST_ROOT.parent / "real"
        res = ev.scratch_eval(model, sets, args.seed, threshold=threshold, max_images=args.max_images, out_dir=out,
                              real=real if real.is_dir() else None)
        res = {name: {**r, "threshold": threshold} for name, r in res.items()}
        if tuning is not None:
            res["threshold_tuning"] = tuning
    res = {"task": args.task, "seed": args.seed, "max_images": args.max_images, "results": res}
    (out / "results.json").write_text(json.dumps(res, indent=2) + "\n")
    print(json.dumps(res, indent=2))
    if args.update_card:
        if card is None:
            print("--update-card needs a models/ id, card or .safetensors with a card", file=sys.stderr)
            return 2
        fields = {"threshold": threshold} if args.task == "scratch" else None
        update_card(card, {"test": res["results"], "eval_seed": args.seed}, fields=fields)
    return 0


def _cmd_eval_repair(args: argparse.Namespace) -> int:
    from restorer_gui.core.errors import RestorerError
    from restorer_gui.inference import ops
    from restorer_gui.training import evaluate as ev
    from restorer_gui.training import repair_eval as rev

    out = Path(args.out)
    sets = ev.resolve_sets(args.sets or _DEFAULT_SETS["repair"])
    real = ev.DEFAULT_TEST_ROOT.parent / "real"
    models = ops.ModelSet("cpu")
    calibration = None
    try:
        if args.calibrate:
            detector = args.model or models.get(("detect-scratches",)).id
            calibration = rev.calibrate(models, detector, args.inpainter)
            print(json.dumps({"calibration": calibration}), file=sys.stderr)
        threshold = args.threshold if args.threshold is not None else (calibration or {}).get("threshold")
        grow = (calibration or {}).get("grow")
        res = rev.repair_eval(models, sets, seed=args.seed, max_images=args.max_images, threshold=threshold,
                              grow=grow, detector=args.model, inpainter=args.inpainter,
                              real=real if real.is_dir() else None, out_dir=None if args.no_sheets else out)
    except RestorerError as exc:
        raise CommandError(str(exc)) from None
    res = {"task": "repair", "seed": args.seed, "max_images": args.max_images, "threshold": threshold, "grow": grow,
           "detector": args.model, "inpainter": args.inpainter, "calibration": calibration, "results": res}
    rev.write(res, out)
    print(json.dumps(res, indent=2))
    if args.update_card:
        from restorer_gui.inference import registry
        from restorer_gui.training.export import update_card

        info = registry.find_model(args.model) if args.model else registry.default_model("detect-scratches")
        if info is None or info.card_path is None:
            print("--update-card needs a detector with a card", file=sys.stderr)
            return 2
        fields = {k: calibration[k] for k in ("threshold", "grow")} if calibration else None
        update_card(info.card_path, {"repair": res["results"], "repair_calibration": calibration,
                                     "eval_seed": args.seed}, fields=fields)
    return 0


def _cmd_patches(args: argparse.Namespace) -> int:
    from restorer_gui.training.datasets import write_patch_cache
    from restorer_gui.training.trainer import DEFAULT_TRAIN_DATA

    if not str(args.out).endswith(".npy"):
        raise CommandError(f"the patch cache is a .npy file: {args.out}")
    try:
        path = write_patch_cache(args.data or DEFAULT_TRAIN_DATA, args.out, args.count, args.size, args.seed)
    except (ValueError, FileNotFoundError, OSError) as exc:
        raise CommandError(str(exc)) from None
    print(f"wrote {path}: {args.count} crops of {args.size} px ({path.stat().st_size / 2**20:.1f} MiB)")
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from restorer_gui.training.export import export_checkpoint

    w, c = export_checkpoint(
        args.checkpoint, args.id, args.models_dir, name=args.name, description=args.description,
        reproduce=args.reproduce, notes=args.notes, measure_speed=not args.no_speed,
    )
    print(f"wrote {w} and {c}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """The same as ``restorer train|eval|patches|export ...`` (the same subcommands, the same error rule)."""
    parser = argparse.ArgumentParser(prog="restorer", description="Train, evaluate and export restorer's models.")
    add_parsers(parser.add_subparsers(dest="command", metavar="COMMAND"))
    return run_command(parser, None if argv is None else list(argv))


if __name__ == "__main__":
    sys.exit(main())
