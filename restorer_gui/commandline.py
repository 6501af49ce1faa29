"""What every `restorer` command line shares: `CommandError` and running a parsed command by the one-line
error rule (a usage error prints one line and exits 2, Ctrl-C exits 130, never a traceback).

`restorer_gui.cli` (all of `restorer`) and `restorer_gui.training.cli` (its train, eval, patches and export,
also runnable as ``python -m restorer_gui.training.cli``) both build on this module, not on each other.
"""

from __future__ import annotations

import argparse
import sys

from restorer_gui.core.errors import RestorerError

__all__ = ["CommandError", "error", "run_command"]


class CommandError(RestorerError):
    """Stops a command with a one-line message and an exit code."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


def error(message: str) -> None:
    print(f"restorer: {message}", file=sys.stderr)


def run_command(parser: argparse.ArgumentParser, argv: list[str] | None = None) -> int:
    """Parse *argv* (default: the process's arguments) and run the chosen subcommand's ``func``."""
    from restorer_gui.logs import quiet_library_warnings

    quiet_library_warnings()
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if not getattr(args, "func", None):
        parser.print_usage(sys.stderr)
        print("restorer: error: a command is required", file=sys.stderr)
        return 2
    try:
        return int(args.func(args))
    except CommandError as exc:
        error(str(exc))
        return exc.code
    except KeyboardInterrupt:
        print("restorer: interrupted", file=sys.stderr)
        return 130
