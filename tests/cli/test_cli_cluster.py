"""`restorer batch … --cluster`: without Ray one line says how to install it; with Ray (the cluster extra)
a local Ray cluster gives the local batch's files, names the bad ones, and a re-run skips what exists."""

import json
import sys

import pytest

from tests.batch_helpers import digests, flat_folder, mixed_folder, temp_files


def test_without_ray_cluster_says_how_to_install_it(cli, tmp_path, monkeypatch):
    flat_folder(tmp_path / "scans", 1)
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` fails as when it is not installed
    code, stdout, err = cli("batch", tmp_path / "scans", tmp_path / "out", "--cluster", "local")
    assert code == 2 and stdout == ""
    assert err == 'restorer: running on a cluster needs Ray, which is not installed: pip install "restorer-gui[cluster]"\n'
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--workers", "2"], "--workers, --gpus-per-worker and --cpus-per-worker go with --cluster"),
        (["--cluster", "local", "--workers", "0"], "--workers must be at least 1"),
        (["--cluster", "local", "--gpus-per-worker", "-1"], "--gpus-per-worker cannot be negative"),
    ],
)
def test_cluster_usage_errors_exit_2(cli, tmp_path, args, message):
    if "--cluster" in args:
        pytest.importorskip("ray")
    flat_folder(tmp_path / "scans", 1)
    code, _, err = cli("batch", tmp_path / "scans", tmp_path / "out", *args)
    assert code == 2 and message in err and err.count("\n") == 1


def test_an_address_where_no_cluster_listens_fails_at_once_in_one_line(cli, tmp_path):
    import socket

    pytest.importorskip("ray")
    flat_folder(tmp_path / "scans", 1)
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code, _, err = cli("batch", tmp_path / "scans", tmp_path / "out", "--cluster", f"127.0.0.1:{port}")
    assert code == 2 and err == f"restorer: cannot connect to the Ray cluster at 127.0.0.1:{port}: Connection refused\n"
    code, _, err = cli("batch", tmp_path / "scans", tmp_path / "out", "--cluster", "head-node")
    assert code == 2 and "use 'local', 'auto', HOST:PORT of a head node or ray://HOST:PORT" in err
    assert err.count("\n") == 1 and not (tmp_path / "out").exists()


def _unet_weights(folder):
    """A tiny random-weight denoiser of the app's own architecture (every worker knows it)."""
    import torch
    from safetensors.torch import save_file

    from restorer_gui.inference import archs

    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    net = archs.build("denoise_unet", nc=[4, 8, 8, 8], nb=1)
    weights = folder / "tiny-unet.safetensors"
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(weights))
    card = {"id": "tiny-unet", "task": "denoise", "architecture": "denoise_unet",
            "hparams": {"nc": [4, 8, 8, 8], "nb": 1}, "weights": weights.name, "untrained": True}
    (folder / "tiny-unet.json").write_text(json.dumps(card), encoding="utf-8")
    return weights


@pytest.mark.cluster
def test_cluster_local_gives_the_local_batchs_files_and_a_rerun_skips_them(cli, tmp_path):
    pytest.importorskip("ray")
    src = tmp_path / "scans"
    mixed_folder(src)
    before = digests(src)
    weights = _unet_weights(tmp_path / "models")
    common = ["--recursive", "--model", weights, "--strength", "20", "--format", "png"]
    code, stdout, _ = cli("batch", src, tmp_path / "local", *common)
    assert code == 1 and "5 written, 2 failed" in stdout
    code, stdout, err = cli("batch", src, tmp_path / "cluster", *common, "--cluster", "local", "--workers", "2")
    assert code == 1
    assert "5 written, 2 failed" in stdout and "Cluster: " in stdout and "Log: " in stdout
    assert f"restorer: {src / 'sub' / 'broken.jpg'}: the file is truncated or corrupt" in err
    assert "notes.png: not an image file" in err
    assert digests(tmp_path / "cluster") == digests(tmp_path / "local")
    assert digests(src) == before and temp_files(tmp_path) == []
    (src / "sub" / "broken.jpg").unlink()
    (src / "sub" / "deep" / "notes.png").unlink()
    code, stdout, _ = cli("batch", src, tmp_path / "cluster", *common, "--cluster", "local")
    assert code == 0 and "Nothing to do: 5 files skipped" in stdout


@pytest.mark.cluster
def test_ctrl_c_stops_the_cluster_batch_cleanly_and_a_rerun_finishes(tmp_path):
    """Ctrl-C from a terminal (SIGINT to the whole process group, Ray's processes included) once a few
    files are written: exit 130, only whole files, no Ray process left; a re-run writes the rest."""
    import os
    import signal
    import subprocess
    import time

    pytest.importorskip("ray")
    src, out = tmp_path / "scans", tmp_path / "out"
    flat_folder(src, 16, size=(300, 400))
    weights = _unet_weights(tmp_path / "models")
    cmd = [sys.executable, "-m", "restorer_gui.cli", "batch", str(src), str(out), "--model", str(weights),
           "--strength", "20", "--cluster", "local", "--workers", "2"]
    env = dict(os.environ, RESTORER_HOME=str(tmp_path / "home"))
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            start_new_session=True)
    try:
        while proc.poll() is None and not (out.exists() and len(list(out.glob("*.png"))) >= 2):
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGINT)
        stdout, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 130, err
    assert "stopping after the current tile" in err and "Traceback" not in err
    assert "Cancelled: " in stdout and "not processed" in stdout
    written = sorted(p.name for p in out.iterdir())
    assert 2 <= len(written) < 16 and temp_files(tmp_path) == []
    code = subprocess.run(["pgrep", "-s", str(proc.pid)], capture_output=True).returncode
    assert code == 1  # no process of that session (raylet, workers) is left
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    assert done.returncode == 0 and f"{16 - len(written)} written, {len(written)} skipped" in done.stdout
