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


class CommandError(Exception):
    """Stops a command with a one-line message and an exit code."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


def _error(message: str) -> None:
    print(f"restorer: {message}", file=sys.stderr)


_TASK_USES = {"denoise": ("denoise", "restore"), "inpaint": ("inpaint",), "detect-scratches": ("detect-scratches",)}


def _load_model(ref: str | None, task: str | None, device: str) -> Any:
    """The model for a command: --model ID|PATH, else the default one for *task*."""
    os.environ.setdefault("PYTORCH_ENABLE_MPS_FALLBACK", "1")
    from restorer_gui.inference import loader, registry
    from restorer_gui.inference.device import DeviceError
    from restorer_gui.inference.safe_load import ModelLoadError

    if ref is None:
        assert task is not None
        info = registry.default_model(task)
        if info is None:
            raise CommandError(
                f"no {task} model is installed: import one with `restorer models import FILE` "
                "or pass --model ID|PATH (see `restorer models list`)"
            )
        ref = info.id
    try:
        model = loader.load_model(ref, device=device)
    except (ModelLoadError, registry.RegistryError, DeviceError) as exc:
        raise CommandError(str(exc)) from None  # already names the file, id or device
    if task is not None and model.task not in _TASK_USES[task]:
        raise CommandError(f"model {model.id!r} is a {model.task} model; it cannot be used for {task}")
    if model.info.untrained:
        _error(f"warning: model {model.id!r} has untrained weights; the result will not be useful")
    return model


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
    inputs: list[Path], targets: list[Path], work: Callable[[Any, Callable[[float, str], None]], Any]
) -> int:
    """Load, process and save every input; failures are named on stderr and give exit 1."""
    from restorer_gui.core import imageio

    failed = 0
    for src, dst in zip(inputs, targets, strict=True):
        try:
            image = imageio.load_image(src)
            with _progress_bar(src.name) as progress:
                result = work(image, progress)
            dst.parent.mkdir(parents=True, exist_ok=True)
            imageio.save_image(dst, result, icc_profile=image.icc_profile, exif=image.exif)
        except imageio.ImageError as exc:
            _error(str(exc))
            failed += 1
        except Exception as exc:  # noqa: BLE001 - a bad input or model output: one line, never a traceback
            _error(f"{src.name}: {_one_line(exc)}")
            failed += 1
        else:
            print(dst)
    return 1 if failed else 0


def _one_line(exc: BaseException) -> str:
    line = next((ln.strip() for ln in str(exc).splitlines() if ln.strip()), type(exc).__name__)
    return line[:300]


def _load_mask(path: Path) -> Any:
    """A damage mask as H×W uint8 (white = damage); colour masks use their brightest channel."""
    from restorer_gui.core import imageio

    pixels = imageio.load_image(path).pixels
    colour = pixels[..., :3] if pixels.shape[2] >= 3 else pixels[..., :1]
    gray = colour.max(axis=2)
    return (gray >> 8).astype("uint8") if gray.dtype.itemsize == 2 else gray


def _sigma(args: argparse.Namespace) -> tuple[float | None, bool]:
    strength = getattr(args, "strength", None)
    if strength is not None and not 0 <= strength <= 255:
        raise CommandError("--strength must be between 0 and 255")
    return strength, bool(getattr(args, "auto", False))


def cmd_denoise(args: argparse.Namespace) -> int:
    inputs = [Path(p) for p in args.inputs]
    targets = _targets(inputs, args.output)
    strength, auto = _sigma(args)
    model = _load_model(args.model, "denoise", args.device)
    from restorer_gui.inference import pipelines

    def work(image: Any, progress: Callable[[float, str], None]) -> Any:
        sigma = pipelines.estimate_noise_sigma(image.pixels) if auto else strength
        return pipelines.denoise(image.pixels, model, sigma=sigma, tile=args.tile, progress=progress)

    return _run_each(inputs, targets, work)


def cmd_inpaint(args: argparse.Namespace) -> int:
    inputs = [Path(args.input)]
    targets = _targets(inputs, args.output)
    try:
        mask = _load_mask(Path(args.mask))
    except Exception as exc:  # noqa: BLE001 - ImageError and friends: the mask is an argument
        raise CommandError(f"cannot read the mask: {_one_line(exc)}", 1) from None
    model = _load_model(args.model, "inpaint", args.device)
    from restorer_gui.inference import pipelines

    def work(image: Any, progress: Callable[[float, str], None]) -> Any:
        return pipelines.inpaint(image.pixels, mask, model, progress=progress)

    return _run_each(inputs, targets, work)


def cmd_detect_scratches(args: argparse.Namespace) -> int:
    inputs = [Path(args.input)]
    targets = _targets(inputs, args.output)
    if args.threshold is not None and not 0 <= args.threshold <= 1:
        raise CommandError("--threshold must be between 0 and 1")
    model = _load_model(args.model, "detect-scratches", args.device)
    from restorer_gui.inference import pipelines

    def work(image: Any, progress: Callable[[float, str], None]) -> Any:
        threshold = args.threshold
        return pipelines.detect_scratches(image.pixels, model, threshold=threshold, tile=args.tile, progress=progress)

    return _run_each(inputs, targets, work)


def cmd_run_model(args: argparse.Namespace) -> int:
    inputs = [Path(args.input)]
    targets = _targets(inputs, args.output)
    strength, _auto = _sigma(args)
    mask = None
    if args.mask:
        try:
            mask = _load_mask(Path(args.mask))
        except Exception as exc:  # noqa: BLE001
            raise CommandError(f"cannot read the mask: {_one_line(exc)}", 1) from None
    model = _load_model(args.model, None, args.device)
    if model.task == "inpaint" and mask is None:
        raise CommandError(f"model {model.id!r} is an inpainting model: pass --mask MASK")
    from restorer_gui.inference import pipelines

    def work(image: Any, progress: Callable[[float, str], None]) -> Any:
        return pipelines.run_model(image.pixels, model, mask=mask, sigma=strength, tile=args.tile, progress=progress)

    return _run_each(inputs, targets, work)


def cmd_batch(args: argparse.Namespace) -> int:
    """Denoise every matching photo of a folder; see the module docstring for exit codes."""
    from restorer_gui.core.batch import BatchOptions, BatchPlanError, plan_batch

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
    model = _load_model(args.model, "denoise", args.device)
    from restorer_gui.inference.batch import BatchRunner, RunSettings
    from restorer_gui.inference.jobs import CancelToken

    settings = RunSettings(sigma=strength, auto=auto, jpeg_quality=args.jpeg_quality,
                           keep_metadata=not args.no_metadata, tile=args.tile)
    cancel = CancelToken()
    with _batch_progress(len(plan.items)) as callbacks, _sigint_cancels(cancel):
        summary = BatchRunner(plan, model, settings, callbacks, cancel).run()
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


@contextmanager
def _batch_progress(total: int) -> Iterator[Any]:
    """Batch callbacks driving a tqdm bar (files) on a terminal; silent otherwise."""
    import threading

    from tqdm import tqdm

    from restorer_gui.inference.batch import BatchCallbacks

    bar = tqdm(total=total, desc="Denoising", unit="file", disable=not sys.stderr.isatty(), file=sys.stderr)
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
        from restorer_gui.inference.safe_load import ModelLoadError

        try:
            info = registry.import_model(args.file, model_id=args.id, task=args.task)
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


def _add_restore_commands(sub: Any) -> None:
    from restorer_gui.core.batch import DEFAULT_PATTERNS, FORMATS, POLICIES

    p = sub.add_parser("denoise", help="remove noise and grain from photos")
    p.add_argument("inputs", nargs="+", metavar="INPUT")
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="output file (one input) or folder")
    level = p.add_mutually_exclusive_group()
    level.add_argument("--strength", type=float, metavar="SIGMA", help="noise level on the 0-255 scale (25 = 25/255)")
    level.add_argument("--auto", action="store_true", help="estimate the noise level of each photo")
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

    p = sub.add_parser("run-model", help="apply any model the loader recognises (upscalers enlarge)")
    p.add_argument("model", metavar="MODEL", help="model id or weights file")
    p.add_argument("input", metavar="INPUT")
    p.add_argument("-o", "--output", required=True, metavar="OUT")
    p.add_argument("--mask", metavar="MASK", help="damage mask, for inpainting models")
    p.add_argument("--strength", type=float, metavar="SIGMA", help="noise level, for denoisers that take one")
    _add_engine_options(p)
    p.set_defaults(func=cmd_run_model)

    p = sub.add_parser("batch", help="denoise every photo of a folder (resumable; see --on-existing)")
    p.add_argument("input_dir", metavar="INPUT_DIR")
    p.add_argument("output_dir", metavar="OUTPUT_DIR",
                   help="sub-folders are mirrored here; the input folder itself gives name-restored.ext")
    p.add_argument("--recursive", "-r", action="store_true", help="include sub-folders")
    level = p.add_mutually_exclusive_group()
    level.add_argument("--strength", type=float, metavar="S", help="noise level on the 0-255 scale (25 = 25/255)")
    level.add_argument("--auto", action="store_true", help="estimate the noise level of each photo")
    p.add_argument("--format", choices=FORMATS, default="same", help="output format (default: same as the input)")
    p.add_argument("--on-existing", choices=POLICIES, default="skip",
                   help="existing outputs: skip (default; resumes an interrupted batch), rename or overwrite")
    p.add_argument("--model", metavar="ID|PATH", help="model id (restorer models list) or weights file")
    p.add_argument("--pattern", default=DEFAULT_PATTERNS, metavar="PATTERNS",
                   help="file patterns, ';'-separated, case-insensitive (default: %(default)s)")
    p.add_argument("--jpeg-quality", type=int, default=95, metavar="Q", help="JPEG quality 1-100 (default: 95)")
    p.add_argument("--no-metadata", action="store_true", help="do not copy EXIF and the ICC profile")
    _add_engine_options(p)
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="restorer", description="Restore scanned old photos from the command line.")
    parser.add_argument("--version", action="version", version=f"restorer {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    info = sub.add_parser("info", help="versions, devices and the folders in use")
    info.set_defaults(func=cmd_info)
    _add_restore_commands(sub)
    from restorer_gui.training.cli import add_parsers as add_training_commands

    add_training_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    from restorer_gui.logs import quiet_library_warnings

    quiet_library_warnings()
    parser = build_parser()
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if not getattr(args, "func", None):
        parser.print_usage(sys.stderr)
        print("restorer: error: a command is required", file=sys.stderr)
        return 2
    try:
        return int(args.func(args))
    except CommandError as exc:
        _error(str(exc))
        return exc.code
    except KeyboardInterrupt:
        print("restorer: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
