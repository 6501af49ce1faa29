"""Hostile model files (code-running pickles in every container, zip bombs, TorchScript, wrong
shapes and dtypes, NaN/Inf, truncated or lying safetensors) through every entry point: the engine
loader, registry import, `restorer models import`, `restorer run-model`, and the GUI's Import
Model / Run Model.  Each is refused with a one-line reason naming the file, no code in it runs
(a payload that would create a marker file never does), nothing is installed, and the app goes on."""

from __future__ import annotations

import json
import os
import pickle
import struct
import subprocess
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from restorer_gui import paths
from restorer_gui.cli import main
from restorer_gui.core.imageio import save_image
from restorer_gui.inference import loader, registry
from restorer_gui.inference.model_import import import_model
from restorer_gui.inference.safe_load import ModelLoadError
from tests.qt.tiny_models import TinyDenoise, install
from tests.reliability.conftest import untouched


class _Payload:
    """Unpickling calls fn(*args): each payload would create the marker file."""

    def __init__(self, fn, *args):
        self.fn, self.args = fn, args

    def __reduce__(self):
        return self.fn, self.args


def _payloads(marker: Path) -> dict[str, _Payload]:
    code = f"open({str(marker)!r}, 'w').write('pwned')"
    return {
        "exec": _Payload(exec, code),
        "eval": _Payload(eval, f"__import__('builtins').exec({code!r})"),
        "os.system": _Payload(os.system, f"touch {marker}"),
        "subprocess.Popen": _Payload(subprocess.Popen, ["touch", str(marker)]),
    }


def _weights() -> dict[str, torch.Tensor]:
    return {"conv.weight": torch.full((3, 3, 1, 1), 0.1), "conv.bias": torch.zeros(3)}


def _zip_members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {i.filename: zf.read(i) for i in zf.infolist()}


def _rezip(path: Path, members: dict[str, bytes], deflate: set[str] = frozenset()) -> None:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data, zipfile.ZIP_DEFLATED if name in deflate else zipfile.ZIP_STORED)


def _pickle_containers(folder: Path, name: str, payload: _Payload) -> list[Path]:
    """The payload inside every container a user could be handed."""
    evil = {**_weights(), "extra": payload}
    made = []

    def out(suffix: str) -> Path:
        made.append(folder / f"{name}-{suffix}")
        return made[-1]

    torch.save(evil, out("torch-zip.pth"))
    torch.save(evil, out("torch-legacy.pth"), _use_new_zipfile_serialization=False)
    torch.save({"state_dict": evil, "epoch": 3}, out("nested-in-checkpoint.ckpt"))
    for protocol in (2, 4, 5):
        out(f"bare-pickle-p{protocol}.pt").write_bytes(pickle.dumps(payload, protocol=protocol))
    out("pickle-named.safetensors").write_bytes(pickle.dumps(payload, protocol=2))
    torch.save(_weights(), out("swapped-data-pkl.bin"))
    members = _zip_members(made[-1])
    members = {k: pickle.dumps(payload, protocol=2) if k.endswith("data.pkl") else v for k, v in members.items()}
    _rezip(made[-1], members)
    return made


def _st_raw(path: Path, header: dict, data: bytes = b"", length: int | None = None) -> Path:
    text = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(text) if length is None else length) + text + data)
    return path


def _with_card(path: Path, state: dict[str, torch.Tensor]) -> Path:
    """Weights for our tiny denoise architecture, with its card next to them."""
    if path.suffix == ".safetensors":
        save_file(state, str(path))
    else:
        torch.save(state, path)
    card = {"id": path.stem, "task": "denoise", "architecture": "test_tiny_denoise", "weights": path.name}
    path.with_suffix(".json").write_text(json.dumps(card))
    return path


def _bigger_than_storage(path: Path) -> Path:
    """A tensor whose declared size (4000) exceeds its storage (4 elements)."""
    torch.save({"conv.weight": torch.zeros(4)}, path)
    members = _zip_members(path)
    pkl = next(k for k in members if k.endswith("data.pkl"))
    assert b"K\x04\x85" in members[pkl]
    members[pkl] = members[pkl].replace(b"K\x04\x85", b"M\xa0\x0f\x85", 1)
    _rezip(path, members)
    return path


def _deflate_bomb(path: Path, expanded: int = 64 << 20) -> Path:
    """A .pth zip whose tensor record inflates from ~64 KiB to 64 MiB."""
    torch.save(_weights(), path)
    members = _zip_members(path)
    record = next(k for k in members if k.endswith("/data/0"))
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            if name != record:
                zf.writestr(name, data)
                continue
            info = zipfile.ZipInfo(name)
            info.compress_type = zipfile.ZIP_DEFLATED
            with zf.open(info, "w", force_zip64=True) as fh:
                zeros = bytes(1 << 20)
                for _ in range(expanded >> 20):
                    fh.write(zeros)
    return path


def _lying_sizes(path: Path) -> Path:
    """A .pth zip whose directory claims ~4 GiB per member (the data is tiny)."""
    torch.save(_weights(), path)
    data = bytearray(path.read_bytes())
    pos = data.find(b"PK\x01\x02")
    while pos != -1:
        struct.pack_into("<I", data, pos + 24, 0xFFFFFFF0)
        pos = data.find(b"PK\x01\x02", pos + 4)
    path.write_bytes(bytes(data))
    return path


@pytest.fixture(scope="module")
def hostile(tmp_path_factory) -> tuple[list[Path], Path]:
    """(hostile files, marker that must never appear)."""
    folder = tmp_path_factory.mktemp("hostile")
    marker = folder.parent / f"{folder.name}-pwned"
    files: list[Path] = []
    for name, payload in _payloads(marker).items():
        files += _pickle_containers(folder, name, payload)
    files.append(_deflate_bomb(folder / "zip-bomb-deflate.pth"))
    files.append(_lying_sizes(folder / "zip-bomb-lying-sizes.pth"))
    with warnings.catch_warnings():  # torch.jit is deprecated, but such files exist
        warnings.simplefilter("ignore", FutureWarning)
        torch.jit.trace(torch.nn.Conv2d(3, 3, 1), torch.zeros(1, 3, 4, 4)).save(str(folder / "torchscript.pt"))
    files.append(folder / "torchscript.pt")
    good = _weights()
    for name, state in {
        "wrong-shape": {**good, "conv.weight": torch.zeros(3, 3, 3, 3)},
        "missing-weight": {"conv.bias": torch.zeros(3)},
        "extra-weight": {**good, "head.weight": torch.zeros(3)},
        "int64-weights": {k: v.long() for k, v in good.items()},
        "bool-weights": {k: v.bool() for k, v in good.items()},
        "uint8-weights": {k: v.to(torch.uint8) for k, v in good.items()},
    }.items():
        files.append(_with_card(folder / f"{name}.safetensors", state))
    files.append(_with_card(folder / "complex-weights.pth", {k: v.to(torch.complex64) for k, v in good.items()}))
    nan, inf = _weights(), _weights()
    nan["conv.bias"][1] = float("nan")
    inf["conv.weight"][0, 0, 0, 0] = float("inf")
    save_file(nan, str(folder / "nan.safetensors"))
    torch.save(inf, folder / "inf.pth")
    save_file({k: v.half() for k, v in inf.items()}, str(folder / "inf-fp16.safetensors"))
    files += [folder / "nan.safetensors", folder / "inf.pth", folder / "inf-fp16.safetensors"]
    save_file(good, str(folder / "whole.safetensors"))
    whole = (folder / "whole.safetensors").read_bytes()
    (n,) = struct.unpack("<Q", whole[:8])
    for name, cut in {"cut-data": len(whole) - 7, "cut-header": 8 + n // 2, "cut-length": 5}.items():
        (folder / f"truncated-{name}.safetensors").write_bytes(whole[:cut])
        files.append(folder / f"truncated-{name}.safetensors")
    torch.save(good, folder / "whole.pth")
    torch.save(good, folder / "whole-legacy.pth", _use_new_zipfile_serialization=False)
    for name in ("whole.pth", "whole-legacy.pth"):
        data = (folder / name).read_bytes()
        (folder / f"truncated-{name}").write_bytes(data[: len(data) // 2])
        files.append(folder / f"truncated-{name}")
    files += [
        _st_raw(folder / "header-huge-shape.safetensors",
                {"w": {"dtype": "F32", "shape": [1 << 20, 1 << 20], "data_offsets": [0, 16]}}, bytes(16)),
        _st_raw(folder / "header-huge-offsets.safetensors",
                {"w": {"dtype": "F32", "shape": [1 << 30], "data_offsets": [0, 1 << 32]}}, bytes(16)),
        _st_raw(folder / "header-overlapping.safetensors",
                {"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]},
                 "b": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}, bytes(16)),
        _st_raw(folder / "header-length-lies.safetensors", {"w": 1}, length=1 << 40),
        _st_raw(folder / "header-only-metadata.safetensors", {"__metadata__": {"a": "b"}}),
        _bigger_than_storage(folder / "bigger-than-storage.pth"),
    ]
    torch.save({**good, "epoch": 3}, folder / "non-tensor-entry.pth")
    torch.save({}, folder / "no-weights.pth")
    (folder / "empty.pth").write_bytes(b"")
    (folder / "text.ckpt").write_text("these are not weights")
    (folder / "photo.safetensors").write_bytes(b"\xff\xd8\xff\xe0" + bytes(200))
    (folder / "a-folder.pth").mkdir()
    files += [folder / n for n in ("non-tensor-entry.pth", "no-weights.pth", "empty.pth", "text.ckpt",
                                   "photo.safetensors", "a-folder.pth")]
    return files, marker


def _one_line_naming(message: str, path: Path) -> bool:
    return path.name in message and "\n" not in message.strip() and "Traceback" not in message


def _installed() -> list[str]:
    folder = paths.user_models_dir()
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def test_engine_and_registry_refuse_every_hostile_file(hostile, tally):
    files, marker = hostile
    with untouched([f for f in files if f.is_file()]):
        for path in files:
            with pytest.raises((ModelLoadError, registry.RegistryError)) as err:
                loader.load_model(path, "cpu")
            assert _one_line_naming(str(err.value), path), str(err.value)
            with pytest.raises((ModelLoadError, registry.RegistryError)) as err:
                import_model(path)
            assert _one_line_naming(str(err.value), path), str(err.value)
            assert not marker.exists() and _installed() == []
            tally["hostile model files x load_model/import_model"] += 1


def test_cli_refuses_every_hostile_file_in_one_line(hostile, tmp_path, capsys, tally):
    files, marker = hostile
    photo = tmp_path / "photo.png"
    save_image(photo, np.full((12, 16, 3), 90, np.uint8))
    with untouched([f for f in files if f.is_file()] + [photo]):
        for path in files:
            for args, codes in ((["models", "import", path], (1, 2)),
                                (["run-model", path, photo, "-o", tmp_path / "out.png"], (2,))):
                code = main([str(a) for a in args])
                _out, err = capsys.readouterr()
                assert code in codes and err.count("\n") == 1 and _one_line_naming(err, path), (args, code, err)
                assert not (tmp_path / "out.png").exists() and not marker.exists()
                tally["hostile model files x CLI models import/run-model"] += 1
    assert _installed() == []


def test_gui_refuses_every_hostile_file_and_goes_on(window, open_doc, qtbot, dialogs, hostile, tally):
    files, marker = hostile
    model = open_doc(np.full((12, 16, 3), 90, np.uint8))
    pool = window.restore.pool
    with untouched([f for f in files if f.is_file()]):
        for path in files:
            with qtbot.waitSignal(pool.job_failed, timeout=30_000) as failed:
                window.restore.import_model(path)
            assert _one_line_naming(failed.args[1], path), failed.args[1]
            if path.is_dir():  # not even a file: refused on the spot
                assert window.restore.run_model(str(path)) is None
                assert dialogs.shown[-1][0] == "critical" and _one_line_naming(dialogs.shown[-1][2], path)
            else:
                with qtbot.waitSignal(pool.job_failed, timeout=30_000) as failed:
                    window.restore.run_model(str(path))
                assert _one_line_naming(failed.args[1], path), failed.args[1]
            assert not marker.exists() and _installed() == [] and model.doc.layers == []
            tally["hostile model files x GUI import model/run model"] += 1
    assert all(kind in ("critical", "box") for kind, *_ in dialogs.shown)
    install("good", "test_tiny_denoise", "denoise", TinyDenoise())  # the app goes on: a good model works
    with qtbot.waitSignal(model.layers_changed, timeout=30_000):
        window.restore.run_model("good")
    assert len(model.doc.layers) == 1


def test_training_checkpoints_are_read_weights_only(tmp_path, capsys):
    """`restorer export` / `restorer eval --model x.pt` and `train --resume` take trainer checkpoints a
    user names: a pickle payload in one must be refused, not run."""
    from restorer_gui import cli
    from restorer_gui.training.export import load_checkpoint_model
    from restorer_gui.training.trainer import TrainConfig, train

    marker = tmp_path / "pwned"
    run = tmp_path / "run"
    run.mkdir()
    for name, payload in _payloads(marker).items():
        torch.save({"arch": payload, "hparams": {}, "model": {}}, run / "last.pt")
        with pytest.raises(ModelLoadError, match="last.pt: refused"):
            load_checkpoint_model(run / "last.pt")
        with pytest.raises(ModelLoadError, match="last.pt: refused"):
            train(TrainConfig(task="denoise", out=str(run), steps=1, progress=False), resume=True)
        assert cli.main(["export", str(run / "last.pt"), "--id", "x", "--models-dir", str(tmp_path)]) == 2
        assert not marker.exists(), name
    assert "refused" in capsys.readouterr().err and not list(tmp_path.glob("x.*"))
