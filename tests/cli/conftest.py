import pytest

from restorer_gui.cli import main


@pytest.fixture
def cli(capsys):
    """Run `restorer ARGS` in-process: (exit code, stdout, stderr); never a traceback."""

    def run(*args):
        code = main([str(a) for a in args])
        out, err = capsys.readouterr()
        assert "Traceback" not in err
        return code, out, err

    return run
