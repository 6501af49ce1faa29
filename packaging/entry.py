"""Entry point of the PyInstaller bundle: `restorer-gui [IMAGE] [--screenshot OUT.png] | --self-test`."""

from __future__ import annotations

import sys


def main() -> int:
    """The self-test when asked for, else the GUI."""
    if "--self-test" in sys.argv[1:]:
        from restorer_gui.selftest import run_self_test

        return run_self_test()
    from restorer_gui.app import main as app_main

    return app_main()


if __name__ == "__main__":
    raise SystemExit(main())
