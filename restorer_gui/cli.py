"""`restorer` console entry point. Usage errors exit 2, failed inputs 1, success 0; no tracebacks.

Restoration commands (denoise, inpaint, detect-scratches, run-model, batch) and `models` run the
same engine as the GUI; torch is imported only inside those commands.  No model available for a
task, a model that cannot be loaded, or an unavailable device are usage errors (exit 2).
`batch`: 0 when every file was written (or skipped because its output exists), 1 when some
failed or a full / read-only output disk stopped it, 2 on usage errors, 130 after Ctrl-C (the
first Ctrl-C stops after the current tile; nothing partial is left; re-run to resume).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import Any

from restorer_gui import __version__, paths
from restorer_gui.commandline import CommandError, run_command
from restorer_gui.commandline import error as _error
from restorer_gui.core.errors import RestorerError


def _dist_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def _devices() -> list[str]:
    """Available compute devices; importing torch happens only here."""
    try:
        import torch
    except Exception as exc:  # noqa: BLE001 - a broken torch install must not crash `info`
        return [f"cpu (torch unavailable: {exc})"]
    found = [f"cpu ({torch.get_num_threads()} threads)"]
    try:
        if torch.cuda.is_available():
            for i in range(torch.cuda.device_count()):
                props = torch.cuda.get_device_properties(i)
                found.append(f"cuda:{i} {props.name} ({props.total_memory / 2**30:.1f} GiB)")
    except Exception as exc:  # noqa: BLE001
        found.append(f"cuda unavailable: {exc}")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        found.append("mps (Apple GPU)")
    return found


def cmd_info(_args: argparse.Namespace) -> int:
    print(f"restorer-gui {__version__}")
    print(f"Python {platform.python_version()} on {platform.platform()}")
    for dist in ("PySide6-Essentials", "torch", "torchvision", "numpy", "pillow", "tifffile", "spandrel", "safetensors"):
        print(f"  {dist:<20} {_dist_version(dist)}")
    print("Devices:")
    for device in _devices():
        print(f"  {device}")
    print("Folders:")
    for name, folder in paths.all_folders().items():
        print(f"  {name:<16} {folder}")
    return 0


# --------------------------------------------------------------------------- restoration commands


def _models(device: str) -> Any:
    """The models of this command run: each loaded once, kept across inputs (an unavailable device is a
    usage error)."""
    os.environ.setdefault("PYTORCH_ENABLE_MPS_FALLBACK", "1")
    from restorer_gui.inference import ops
    from restorer_gui.inference.device import DeviceError, resolve_device

    try:
        resolve_device(device)
    except DeviceError as exc:
        raise CommandError(str(exc)) from None
    return ops.ModelSet(device)


def _prepare(models: Any, recipe: Any) -> None:
    """Every model a recipe needs, loaded before the first input: problems are usage errors (exit 2)."""
    from restorer_gui.core.errors import RestorerError
    from restorer_gui.inference.chain import prepare_models

    try:
        for model in prepare_models(recipe, models):
            if model.info.untrained:
                _error(f"warning: model {model.id!r} has untrained weights; the result will not be useful")
    except RestorerError as exc:
        raise CommandError(str(exc)) from None


def _save_name(source: Path) -> str:
    from restorer_gui.core.imageio import SUPPORTED_SAVE_SUFFIXES

    return source.name if source.suffix.lower() in SUPPORTED_SAVE_SUFFIXES else source.stem + ".png"


def _targets(inputs: list[Path], output: str) -> list[Path]:
    """Output path per input: -o is a file for one input, a folder for several (or an existing folder)."""
    from restorer_gui.core.imageio import SUPPORTED_SAVE_SUFFIXES

    out = Path(output).expanduser()
    if len(inputs) > 1 or out.is_dir() or output.endswith(("/", os.sep)):
        if out.exists() and not out.is_dir():
            raise CommandError(f"with several inputs, -o must be a folder ({out} is a file)")
        targets = [out / _save_name(p) for p in inputs]
        seen: set[Path] = set()
        for t in targets:
            if t in seen:
                raise CommandError(f"two inputs would both be written to {t}; process them separately")
            seen.add(t)
    else:
        if out.suffix.lower() not in SUPPORTED_SAVE_SUFFIXES:
            raise CommandError(f"cannot write {out.name}: use a .png, .jpg or .tif output")
        targets = [out]
    for src, dst in zip(inputs, targets, strict=True):
        if dst.exists() and src.exists() and dst.resolve() == src.resolve():
            raise CommandError(f"refusing to overwrite the input {src}: choose another output")
    return targets


@contextmanager
def _progress_bar(label: str) -> Iterator[Callable[[float, str], None]]:
    """A tqdm bar on a terminal (stderr); silent otherwise."""
    from tqdm import tqdm

    bar = tqdm(total=100, desc=label, unit="%", disable=not sys.stderr.isatty(), leave=False, file=sys.stderr)

    def update(fraction: float, message: str) -> None:
        bar.n = round(100 * fraction)
        bar.set_postfix_str(message, refresh=False)
        bar.refresh()

    try:
        yield update
    finally:
        bar.close()


def _run_each(
    inputs: list[Path], targets: list[Path], work: Callable[[Any, Callable[[float, str], None], int], Any],
    after: Callable[[Path], None] | None = None,
) -> int:
    """Load, process and save every input; failures are named on stderr and give exit 1."""
    from restorer_gui.core import imageio

    failed = 0
    for index, (src, dst) in enumerate(zip(inputs, targets, strict=True)):
        try:
            image = imageio.load_image(src)
            with _progress_bar(src.name) as progress:
                result = work(image, progress, index)
            dst.parent.mkdir(parents=True, exist_ok=True)
            imageio.save_image(dst, result, icc_profile=image.icc_profile, exif=image.exif, dpi=image.dpi_for(result),
                               color_chunks=image.color_chunks)
        except imageio.ImageError as exc:
            _error(str(exc))
            failed += 1
        except Exception as exc:  # noqa: BLE001 - a bad input or model output: one line, never a traceback
            _error(f"{src.name}: {_one_line(exc)}")
            failed += 1
        else:
            if after is not None:
                after(src)
            print(dst)
    return 1 if failed else 0


def _one_line(exc: BaseException) -> str:
    line = next((ln.strip() for ln in str(exc).splitlines() if ln.strip()), type(exc).__name__)
    return line[:300]


def _load_mask(path: Path) -> Any:
    """A damage mask (white = damage) read by the one rule of every front end (`mask_ops.mask_from_image`)."""
    from restorer_gui.core import imageio, mask_ops

    return mask_ops.mask_from_image(imageio.load_image(path).pixels)


def _read_mask_arg(path: str | None) -> Any:
    if not path:
        return None
    try:
        return _load_mask(Path(path))
    except Exception as exc:  # noqa: BLE001 - ImageError and friends: the mask is an argument
        raise CommandError(f"cannot read the mask: {_one_line(exc)}", 1) from None


def _keep_grain(args: argparse.Namespace) -> float | None:
    value = getattr(args, "keep_grain", None)
    if value is not None and not 0 <= value <= 100:
        raise CommandError("--keep-grain must be between 0 and 100 (%)")
    return value


def _sigma(args: argparse.Namespace) -> tuple[float | None, bool]:
    strength = getattr(args, "strength", None)
    if strength is not None and not 0 <= strength <= 255:
        raise CommandError("--strength must be between 0 and 255")
    return strength, bool(getattr(args, "auto", False))


def _run_recipe(args: argparse.Namespace, inputs: list[Path], recipe: Any, *, mask: Any = None,
                output: str = "image", masks_to: list[Path] | None = None, tile: bool = True) -> int:
    """Run *recipe* on every input (the same chain as the GUI and batch) and write its image, or its mask
    when *output* is "mask"; *masks_to* also saves each input's final mask there."""
    import numpy as np

    from restorer_gui.inference.chain import run_chain

    targets = _targets(inputs, args.output)
    if not any(p.is_file() for p in inputs):  # nothing to read: say so at once, before torch and the models load
        return _run_each(inputs, targets, lambda *_: None)
    models = _models(args.device)
    _prepare(models, recipe)
    said: list[str] = []

    def work(image: Any, progress: Callable[[float, str], None], index: int) -> Any:
        result = run_chain(image.pixels, recipe, models, mask=mask, tile=getattr(args, "tile", None) if tile else None,
                           progress=progress)
        for step in result.steps:
            summary = _describe_step(step)
            if summary:
                said.append(summary)
        if masks_to is not None:
            from restorer_gui.core import imageio

            dst = masks_to[index]
            dst.parent.mkdir(parents=True, exist_ok=True)
            found = result.mask if result.mask is not None else np.zeros(image.pixels.shape[:2], np.uint8)
            imageio.save_image(dst, found, dpi=image.dpi_for(found))
            said.append(f"mask written to {dst}")
        return result.mask if output == "mask" else result.image

    def report(src: Path) -> None:
        for line in said:  # what was used (model, noise level, what was found), then the output's path
            print(f"{src.name}: {line}")
        said.clear()

    return _run_each(inputs, targets, work, after=report)


def _describe_step(step: Any) -> str:
    info = step.result.info
    if step.op == "denoise":
        level = "blind" if info.get("sigma") is None else f"σ {info['sigma']:.1f}"
        if info.get("auto"):
            level += f" (auto, {info['estimator']})" if info.get("estimator") else " (auto)"
        kept = f", {info['keep_grain']:g} % grain kept" if info.get("keep_grain") else ""
        return f"denoise with {info.get('model')} at {level}{kept}"
    if "summary" in info:
        return f"{step.op}: {info['summary']}"
    return ""


def cmd_denoise(args: argparse.Namespace) -> int:
    from restorer_gui.core.recipe import Recipe, Step

    strength, auto = _sigma(args)
    params = {"strength": strength, "auto": auto, "model": args.model, "keep_grain": _keep_grain(args) or 0.0}
    recipe = Recipe((Step("denoise", params),))
    return _run_recipe(args, [Path(p) for p in args.inputs], recipe)


def cmd_inpaint(args: argparse.Namespace) -> int:
    from restorer_gui.core.recipe import Recipe, Step

    inputs = [Path(args.input)]
    _targets(inputs, args.output)
    mask = _read_mask_arg(args.mask)
    recipe = Recipe((Step("inpaint", {"model": args.model}),))
    return _run_recipe(args, inputs, recipe, mask=mask, tile=False)


def _threshold(args: argparse.Namespace) -> float | None:
    if args.threshold is not None and not 0 <= args.threshold <= 1:
        raise CommandError("--threshold must be between 0 and 1")
    return args.threshold


def cmd_detect_scratches(args: argparse.Namespace) -> int:
    from restorer_gui.core.recipe import Recipe, Step

    recipe = Recipe((Step("detect-scratches", {"threshold": _threshold(args), "model": args.model}),))
    return _run_recipe(args, [Path(args.input)], recipe, output="mask")


def cmd_repair(args: argparse.Namespace) -> int:
    from restorer_gui.core.recipe import Recipe, Step

    inputs = [Path(p) for p in args.inputs]
    params = {"threshold": _threshold(args), "grow": args.grow, "grain": not args.no_grain,
              "detector": args.detector, "inpainter": args.inpainter}
    recipe = Recipe((Step("repair", params),))
    masks = None
    if args.save_mask:
        masks = _mask_targets(inputs, args.save_mask)
    return _run_recipe(args, inputs, recipe, masks_to=masks)


def _mask_targets(inputs: list[Path], where: str) -> list[Path]:
    out = Path(where).expanduser()
    if len(inputs) == 1 and not out.is_dir() and not where.endswith(("/", os.sep)):
        if out.suffix.lower() not in (".png", ".tif", ".tiff"):
            raise CommandError(f"--save-mask writes a PNG or TIFF mask, not {out.name}")
        targets = [out]
    else:
        targets = [out / f"{p.stem}-mask.png" for p in inputs]
    for src in inputs:
        if src.exists() and any(t.exists() and t.resolve() == src.resolve() for t in targets):
            raise CommandError(f"refusing to overwrite the input {src} with a mask: choose another --save-mask")
    return targets


def cmd_restore(args: argparse.Namespace) -> int:
    recipe = _steps_recipe(args)
    return _run_recipe(args, [Path(p) for p in args.inputs], recipe)


def _steps_recipe(args: argparse.Namespace, default: str = "repair,denoise", auto_default: bool = True) -> Any:
    """The recipe of --steps (or --recipe FILE), with the command's own options given to their steps."""
    from restorer_gui.core.recipe import Recipe, RecipeError, parse_steps
    from restorer_gui.inference import ops

    try:
        if getattr(args, "recipe", None):
            try:
                return Recipe.from_json(Path(args.recipe).read_bytes())
            except OSError as exc:
                raise CommandError(f"cannot read the recipe: {exc.strerror or exc}") from None
        strength, auto = _sigma(args)
        denoise = {"strength": strength, "auto": auto or (auto_default and strength is None)}
        if getattr(args, "model", None):
            denoise["model"] = args.model
        if _keep_grain(args) is not None:
            denoise["keep_grain"] = args.keep_grain
        repair = {}
        if getattr(args, "threshold", None) is not None:
            repair["threshold"] = _threshold(args)
        recipe = parse_steps(args.steps or default, {"denoise": denoise, "repair": repair})
        for name in recipe.names:
            if name not in ops.CHAIN_STEPS:
                raise RecipeError(f"unknown step {name!r} (steps: {', '.join(ops.CHAIN_STEPS)})")
        return recipe
    except RecipeError as exc:
        raise CommandError(str(exc)) from None


def cmd_run_model(args: argparse.Namespace) -> int:
    from restorer_gui.core.recipe import Recipe, Step

    inputs = [Path(args.input)]
    _targets(inputs, args.output)
    strength, _auto = _sigma(args)
    mask = _read_mask_arg(args.mask)
    try:
        from restorer_gui.inference import registry

        info = registry.find_model(args.model)
    except Exception as exc:  # noqa: BLE001 - RegistryError: one line
        raise CommandError(_one_line(exc)) from None
    if info.task == "inpaint" and mask is None:
        raise CommandError(f"model {info.id!r} is an inpainting model: pass --mask MASK")
    recipe = Recipe((Step("run-model", {"model": args.model, "strength": strength}),))
    return _run_recipe(args, inputs, recipe, mask=mask)


def cmd_batch(args: argparse.Namespace) -> int:
    """Run a recipe (default: denoise) on every matching photo of a folder; see the module docstring for exit codes."""
    from restorer_gui.core.batch import BatchOptions, BatchPlanError, plan_batch

    cluster = _cluster_settings(args)  # first: without Ray, --cluster says how to install it
    strength, auto = _sigma(args)
    if not 1 <= args.jpeg_quality <= 100:
        raise CommandError("--jpeg-quality must be between 1 and 100")
    options = BatchOptions(Path(args.input_dir), Path(args.output_dir), args.recursive, args.pattern,
                           args.format, args.on_existing)
    try:
        plan = plan_batch(options)
    except BatchPlanError as exc:
        raise CommandError(str(exc)) from None
    if not plan.items:
        reason = f"{len(plan.skipped)} files skipped, outputs exist" if plan.skipped else "no file matches"
        print(f"Nothing to do: {reason} ({plan.options.input_dir} -> {plan.options.output_dir}).")
        return 0
    recipe = _steps_recipe(args, default="denoise", auto_default=False)
    if cluster is None:  # on a cluster, each worker loads (and checks) the models
        models = _models(args.device)
        _prepare(models, recipe)
    from restorer_gui.inference.batch import BatchRunner, RunSettings
    from restorer_gui.inference.jobs import CancelToken

    settings = RunSettings(sigma=strength, auto=auto, jpeg_quality=args.jpeg_quality,
                           keep_metadata=not args.no_metadata, tile=args.tile)
    cancel = CancelToken()
    label = "Denoising" if recipe.names == ["denoise"] else "Restoring"
    with _batch_progress(len(plan.items), label) as callbacks, _sigint_cancels(cancel):
        if cluster is None:
            summary = BatchRunner(plan, None, settings, callbacks, cancel, recipe=recipe, models=models).run()
        else:
            summary = _cluster_batch(plan, recipe, cluster, settings, callbacks, cancel, args.device)
    for path, reason in summary.failed:
        _error(f"{path}: {reason}")
    if summary.fatal:
        _error(f"the batch was stopped: {summary.fatal}")
    print(summary.headline())
    if summary.log_path is not None:
        print(f"Log: {summary.log_path}")
    if summary.cancelled:
        return 130
    return 0 if summary.ok else 1


def _cluster_settings(args: argparse.Namespace) -> Any:
    """The --cluster options (None without --cluster); Ray missing or a bad number is a usage error."""
    if args.cluster is None:
        if args.workers is not None or args.gpus_per_worker is not None or args.cpus_per_worker is not None:
            raise CommandError("--workers, --gpus-per-worker and --cpus-per-worker go with --cluster")
        return None
    from restorer_gui.inference.cluster import ClusterSettings, import_ray

    try:
        import_ray()
        return ClusterSettings(args.cluster.strip(), args.workers, args.gpus_per_worker or 0.0,
                               args.cpus_per_worker or 1.0)
    except RestorerError as exc:
        raise CommandError(str(exc)) from None


def _cluster_batch(plan: Any, recipe: Any, cluster: Any, settings: Any, callbacks: Any, cancel: Any,
                   device: str) -> Any:
    """The batch on a Ray cluster (`inference.cluster`): the same plan, outcomes, log and summary."""
    from restorer_gui.inference.cluster import ClusterRunner

    def started(info: Any) -> None:
        print(f"worker {info.number} on {info.host} (pid {info.pid}, {info.device}): {', '.join(info.models)}",
              file=sys.stderr)

    try:
        runner = ClusterRunner(plan, recipe, cluster, settings, callbacks, cancel, device=device, on_worker=started)
        summary = runner.run()
    except RestorerError as exc:
        raise CommandError(str(exc)) from None
    hosts = sorted({w.host for w in runner.workers})
    lost = f", {len(runner.lost)} lost and replaced" if runner.lost else ""
    print(f"Cluster: {len(runner.workers)} workers on {', '.join(hosts) or 'no host'}{lost}.")
    return summary


@contextmanager
def _batch_progress(total: int, label: str = "Denoising") -> Iterator[Any]:
    """Batch callbacks driving a tqdm bar (files) on a terminal; silent otherwise."""
    import threading

    from tqdm import tqdm

    from restorer_gui.inference.batch import BatchCallbacks

    bar = tqdm(total=total, desc=label, unit="file", disable=not sys.stderr.isatty(), file=sys.stderr)
    lock = threading.Lock()
    state = {"name": "", "finished": 0}

    def started(_index: int, item: Any) -> None:
        state["name"] = item.relative.name

    def progress(p: Any) -> None:
        with lock:
            if p.finished != state["finished"]:
                bar.update(p.finished - state["finished"])
                state["finished"] = p.finished
            current = f"{state['name']} {p.current:.0%}" if p.current else state["name"]
            bar.set_postfix_str(f"{current}, {p.megapixels_per_second:.2f} MP/s", refresh=True)

    try:
        yield BatchCallbacks(file_started=started, progress=progress)
    finally:
        bar.close()


@contextmanager
def _sigint_cancels(cancel: Any) -> Iterator[None]:
    """First Ctrl-C: stop after the current tile (no partial file); a second one: stop at once."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(_signum: int, _frame: Any) -> None:
        if cancel.cancelled:
            raise KeyboardInterrupt
        cancel.cancel()
        print("\nrestorer: stopping after the current tile (Ctrl-C again to stop at once)", file=sys.stderr)

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def cmd_models(args: argparse.Namespace) -> int:
    from restorer_gui.inference import registry

    if args.action == "list":
        models = registry.list_models()
        if not models:
            print("No models installed.")
            print(f"  built-in folder: {paths.builtin_models_dir()}")
            print(f"  user folder:     {paths.user_models_dir()}")
            print("Add one with `restorer models import FILE`.")
            return 0
        print(f"{'ID':<28} {'TASK':<17} {'SOURCE':<9} {'PARAMS':>10}  ARCHITECTURE")
        for m in models:
            params = f"{m.params:,}" if m.params else "?"
            note = "  [untrained]" if m.untrained else ""
            print(f"{m.id:<28} {m.task or '?':<17} {m.source:<9} {params:>10}  {m.architecture or 'auto'}{note}")
        return 0
    if args.action == "import":
        from restorer_gui.inference.model_import import import_model
        from restorer_gui.inference.safe_load import ModelLoadError

        try:
            info = import_model(args.file, model_id=args.id, task=args.task)
        except ModelLoadError as exc:
            raise CommandError(str(exc), 1) from None
        except registry.RegistryError as exc:
            raise CommandError(str(exc), 1 if "does not exist" in str(exc) else 2) from None
        print(f"imported {Path(args.file).name} as {info.id} ({info.task}, {info.architecture})")
        return 0
    try:
        info = registry.remove_model(args.id)
    except registry.RegistryError as exc:
        raise CommandError(str(exc)) from None
    print(f"removed {info.id}")
    return 0


def _add_engine_options(p: argparse.ArgumentParser, *, tile: bool = True) -> None:
    p.add_argument("--device", default="auto", help="auto (CUDA, then MPS, then CPU), cpu, cuda, cuda:N or mps")
    if tile:
        p.add_argument("--tile", type=int, metavar="N", help="tile size in pixels (default: from free memory)")


def _add_keep_grain(p: argparse.ArgumentParser, prefix: str = "") -> None:
    p.add_argument("--keep-grain", type=float, default=None, metavar="P",
                   help=f"{prefix}lay P %% of the removed grain back (0-100; default 0: all of it removed)")


def _add_steps_options(p: argparse.ArgumentParser, default: str) -> None:
    from restorer_gui.inference.ops import CHAIN_STEPS

    steps = p.add_mutually_exclusive_group()
    steps.add_argument("--steps", default=None, metavar="STEPS",
                       help=f"comma-separated steps, in order, from: {', '.join(CHAIN_STEPS)} (default: {default})")
    steps.add_argument("--recipe", metavar="FILE", help="a recipe file (JSON, as saved next to batch outputs)")


def _add_restore_commands(sub: Any) -> None:
    from restorer_gui.core.batch import DEFAULT_PATTERNS, FORMATS, POLICIES

    p = sub.add_parser("denoise", help="remove noise and grain from photos")
    p.add_argument("inputs", nargs="+", metavar="INPUT")
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="output file (one input) or folder")
    level = p.add_mutually_exclusive_group()
    level.add_argument("--strength", type=float, metavar="SIGMA", help="noise level on the 0-255 scale (25 = 25/255)")
    level.add_argument("--auto", action="store_true", help="estimate the noise level of each photo")
    _add_keep_grain(p)
    p.add_argument("--model", metavar="ID|PATH", help="model id (restorer models list) or weights file")
    _add_engine_options(p)
    p.set_defaults(func=cmd_denoise)

    p = sub.add_parser("inpaint", help="fill masked damage (mask: white = damage)")
    p.add_argument("input", metavar="INPUT")
    p.add_argument("--mask", required=True, metavar="MASK")
    p.add_argument("-o", "--output", required=True, metavar="OUT")
    p.add_argument("--model", metavar="ID|PATH")
    _add_engine_options(p, tile=False)
    p.set_defaults(func=cmd_inpaint)

    p = sub.add_parser("detect-scratches", help="write a mask of scratches and dust (white = damage)")
    p.add_argument("input", metavar="INPUT")
    p.add_argument("-o", "--output", required=True, metavar="MASK.png")
    p.add_argument("--model", metavar="ID|PATH")
    p.add_argument("--threshold", type=float, default=None,
                   help="probability from which a pixel is damage (0-1; default: the model card's, else 0.5)")
    _add_engine_options(p)
    p.set_defaults(func=cmd_detect_scratches)

    p = sub.add_parser("repair", help="detect real damage (cracks, creases, tears, dust) and fill it")
    p.add_argument("inputs", nargs="+", metavar="INPUT")
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="output file (one input) or folder")
    p.add_argument("--threshold", type=float, default=None,
                   help="detector probability from which a pixel is damage (0-1; lower finds more; default: the model card's)")
    p.add_argument("--grow", type=int, default=None, metavar="PX",
                   help="grow the detected mask by PX pixels before filling (default: the detector card's margin)")
    p.add_argument("--save-mask", metavar="MASK", help="also write the damage mask (a file for one input, else a folder)")
    p.add_argument("--no-grain", action="store_true", help="leave fills grainless (default: match the local grain)")
    p.add_argument("--detector", metavar="ID|PATH", help="damage detector model")
    p.add_argument("--inpainter", metavar="ID|PATH", help="inpainting model")
    _add_engine_options(p)
    p.set_defaults(func=cmd_repair)

    p = sub.add_parser("restore", help="run a chain of steps on photos (default: repair,denoise)")
    p.add_argument("inputs", nargs="+", metavar="INPUT")
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="output file (one input) or folder")
    _add_steps_options(p, "repair,denoise")
    level = p.add_mutually_exclusive_group()
    level.add_argument("--strength", type=float, metavar="SIGMA", help="denoise step: noise level (0-255; default: auto)")
    level.add_argument("--auto", action="store_true", help="denoise step: estimate the noise level (the default)")
    _add_keep_grain(p, "denoise step: ")
    p.add_argument("--threshold", type=float, default=None, help="repair step: detector probability cut (0-1)")
    p.add_argument("--model", metavar="ID|PATH", help="denoise step: the denoise model")
    _add_engine_options(p)
    p.set_defaults(func=cmd_restore)

    p = sub.add_parser("run-model", help="apply any model the loader recognises (upscalers enlarge)")
    p.add_argument("model", metavar="MODEL", help="model id or weights file")
    p.add_argument("input", metavar="INPUT")
    p.add_argument("-o", "--output", required=True, metavar="OUT")
    p.add_argument("--mask", metavar="MASK", help="damage mask, for inpainting models")
    p.add_argument("--strength", type=float, metavar="SIGMA", help="noise level, for denoisers that take one")
    _add_engine_options(p)
    p.set_defaults(func=cmd_run_model)

    p = sub.add_parser("batch", help="denoise (or run --steps on) every photo of a folder (resumable; see --on-existing)")
    p.add_argument("input_dir", metavar="INPUT_DIR")
    p.add_argument("output_dir", metavar="OUTPUT_DIR",
                   help="sub-folders are mirrored here; the input folder itself gives name-restored.ext")
    p.add_argument("--recursive", "-r", action="store_true", help="include sub-folders")
    level = p.add_mutually_exclusive_group()
    level.add_argument("--strength", type=float, metavar="S", help="noise level on the 0-255 scale (25 = 25/255)")
    level.add_argument("--auto", action="store_true", help="estimate the noise level of each photo")
    _add_keep_grain(p, "denoise step: ")
    p.add_argument("--format", choices=FORMATS, default="same", help="output format (default: same as the input)")
    p.add_argument("--on-existing", choices=POLICIES, default="skip",
                   help="existing outputs: skip (default; resumes an interrupted batch), rename or overwrite")
    p.add_argument("--model", metavar="ID|PATH", help="model id (restorer models list) or weights file")
    p.add_argument("--pattern", default=DEFAULT_PATTERNS, metavar="PATTERNS",
                   help="file patterns, ';'-separated, case-insensitive (default: %(default)s)")
    p.add_argument("--jpeg-quality", type=int, default=95, metavar="Q", help="JPEG quality 1-100 (default: 95)")
    p.add_argument("--no-metadata", action="store_true", help="do not copy EXIF and the ICC profile")
    _add_steps_options(p, "denoise")
    p.add_argument("--threshold", type=float, default=None, help="repair step: detector probability cut (0-1)")
    _add_engine_options(p)
    cluster = p.add_argument_group("cluster", "run the batch on a Ray cluster (pip install \"restorer-gui[cluster]\"); "
                                   "inputs and outputs must be on storage every node sees under the same paths")
    cluster.add_argument("--cluster", metavar="local|ADDRESS",
                         help="'local' starts a Ray cluster on this machine; 'auto', HOST:PORT of a head node or "
                              "ray://HOST:10001 joins one")
    cluster.add_argument("--workers", type=int, metavar="N",
                         help="worker processes, each holding the models once (default: as many as the GPUs or CPUs hold)")
    cluster.add_argument("--gpus-per-worker", type=float, metavar="G",
                         help="GPUs each worker reserves (default 0; 0.5 puts two workers on a GPU)")
    cluster.add_argument("--cpus-per-worker", type=float, metavar="C",
                         help="CPUs each worker reserves, also its torch threads (default 1)")
    p.set_defaults(func=cmd_batch)

    p = sub.add_parser("models", help="list, import or remove models")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    actions.add_parser("list", help="built-in and user models")
    imp = actions.add_parser("import", help="check a weights file and add it to the user models")
    imp.add_argument("file", metavar="FILE")
    imp.add_argument("--id", default=None, help="id to give the model (default: from the file name)")
    imp.add_argument("--task", default=None, help="override the detected task (e.g. denoise for a restorer)")
    rm = actions.add_parser("remove", help="delete a user model")
    rm.add_argument("id", metavar="ID")
    p.set_defaults(func=cmd_models)


def _add_generated_commands(sub: Any) -> None:
    """A subcommand for every registered operation that has no hand-written one: inputs, -o, and one
    option per parameter of the operation (its help from the field's ``metadata["help"]``), so a new
    operation module appears here by itself."""
    import dataclasses
    import typing

    from restorer_gui.inference import ops

    for name, op in ops.OPERATIONS.items():
        if name in sub.choices:
            continue
        p = sub.add_parser(name, help=op.help)
        p.add_argument("inputs", nargs="+", metavar="INPUT")
        p.add_argument("-o", "--output", required=True, metavar="OUT", help="output file (one input) or folder")
        hints = typing.get_type_hints(op.params)
        for f in dataclasses.fields(op.params):
            flag = "--" + f.name.replace("_", "-")
            kinds = [k for k in (typing.get_args(hints[f.name]) or (hints[f.name],)) if k is not type(None)]
            if kinds == [bool]:
                if f.default:
                    p.add_argument("--no-" + f.name.replace("_", "-"), dest=f.name, action="store_false",
                                   help=f.metadata.get("help"))
                else:
                    p.add_argument(flag, dest=f.name, action="store_true", help=f.metadata.get("help"))
            else:
                p.add_argument(flag, dest=f.name, type=kinds[0], default=f.default, help=f.metadata.get("help"),
                               metavar="ID|PATH" if f.name == "model" else f.name.upper())
        if op.mask != "none":
            p.add_argument("--mask", metavar="MASK", help="damage mask (white = damage)")
        _add_engine_options(p)
        p.set_defaults(func=_generated_command(op))


def _generated_command(op: Any) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        import dataclasses

        from restorer_gui.core.recipe import Recipe, Step

        params = {f.name: getattr(args, f.name) for f in dataclasses.fields(op.params)}
        mask = _read_mask_arg(getattr(args, "mask", None))
        return _run_recipe(args, [Path(p) for p in args.inputs], Recipe((Step(op.name, params),)), mask=mask)

    return run


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="restorer", description="Restore scanned old photos from the command line.")
    parser.add_argument("--version", action="version", version=f"restorer {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    info = sub.add_parser("info", help="versions, devices and the folders in use")
    info.set_defaults(func=cmd_info)
    _add_restore_commands(sub)
    _add_generated_commands(sub)
    from restorer_gui.training.cli import add_parsers as add_training_commands

    add_training_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    return run_command(build_parser(), argv)


if __name__ == "__main__":
    raise SystemExit(main())
