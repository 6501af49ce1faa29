"""`restorer` console entry point. Usage errors exit 2, failed inputs 1, success 0; no tracebacks."""

from __future__ import annotations

import argparse
import platform
import sys
from importlib import metadata

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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="restorer", description="Restore scanned old photos from the command line.")
    parser.add_argument("--version", action="version", version=f"restorer {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    info = sub.add_parser("info", help="versions, devices and the folders in use")
    info.set_defaults(func=cmd_info)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if not getattr(args, "func", None):
        parser.print_usage(sys.stderr)
        print("restorer: error: a command is required", file=sys.stderr)
        return 2
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        print("restorer: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
