"""Hostile image files through every entry point (load_image, GUI open / import, each CLI command,
batch): bad files are refused with one line naming the file, odd-but-valid ones load; never a
crash, a traceback or a hang, and no input is ever modified.  Damaged projects too."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from restorer_gui.cli import main
from restorer_gui.core.imageio import ImageError, load_image, read_image_size, save_image
from tests.reliability.conftest import untouched
from tests.reliability.corpus import bad_images, odd_images, project_members, write_project

CLI_COMMANDS = ("denoise", "inpaint", "detect-scratches", "run-model")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus")
    return bad_images(root / "bad"), odd_images(root / "odd")


def _files(paths):
    return [p for p in paths if p.is_file()]


def test_load_image_refuses_every_bad_file_in_one_line(corpus, tally):
    bad, _ = corpus
    with untouched(_files(bad)):
        for path in bad:
            with pytest.raises(ImageError) as err:
                load_image(path)
            message = str(err.value)
            assert message.startswith(f"{path.name}: ") and "\n" not in message, message
            try:  # the header alone may be fine (it is all this function reads)
                w, h = read_image_size(path)
                assert w > 0 and h > 0
            except ImageError as exc:
                assert str(exc).startswith(f"{path.name}: ") and "\n" not in str(exc)
            tally["bad images x load_image/read_image_size"] += 1


def test_load_image_reads_every_odd_file(corpus, tally):
    _, odd = corpus
    with untouched(odd):
        for path in odd:
            px = load_image(path).pixels
            assert px.dtype in (np.uint8, np.uint16) and px.ndim == 3 and px.shape[2] in (1, 3, 4), path.name
            assert read_image_size(path) == (px.shape[1], px.shape[0]), path.name
            tally["odd images x load_image"] += 1


def test_gui_shows_one_dialog_per_bad_file_and_keeps_the_photo(window, dialogs, corpus, tally):
    bad, odd = corpus
    with untouched(_files(bad) + odd):
        assert window.open_path(odd[0]) and not dialogs.shown
        model = window.model
        for path in bad:
            for action in (window.open_path, window.import_layer, window.import_mask):
                before = len(dialogs.shown)
                assert not action(path)
                shown = dialogs.shown[before:]
                assert len(shown) == 1, (path.name, shown)
                kind, _title, text = shown[0][:3]
                assert kind == "critical" and path.name in text and "\n" not in text and "Traceback" not in text
                tally["bad images x GUI open/import layer/import mask"] += 1
            assert window.model is model and not model.doc.layers
    window.set_document(None)
    before = len(dialogs.shown)
    window.settings.max_image_megapixels = 0.0001  # 100 pixels: a valid photo over the limit
    assert not window.open_path(odd[0]) and "limit" in dialogs.shown[before][2]


def test_gui_opens_every_odd_file(window, dialogs, corpus, tally):
    _, odd = corpus
    with untouched(odd):
        for path in odd:
            assert window.open_path(path), (path.name, dialogs.shown)
            px = load_image(path).pixels
            assert (window.model.doc.width, window.model.doc.height) == (px.shape[1], px.shape[0])
            tally["odd images x GUI open"] += 1
    assert not dialogs.shown


def _run_cli(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    assert "Traceback" not in err + out
    return code, out, err


def _cli_args(command, src, out, mask):
    if command == "inpaint":
        return ["inpaint", src, "--mask", mask, "-o", out]
    if command == "run-model":
        return ["run-model", "tiny-denoise", src, "-o", out]
    return [command, src, "-o", out]


def test_cli_commands_refuse_bad_files_in_one_line(corpus, tiny_models, tmp_path, capsys, tally):
    bad, odd = corpus
    mask = tmp_path / "mask.png"
    save_image(mask, np.full((16, 24), 255, np.uint8))
    with untouched(_files(bad) + [mask]):
        for command in CLI_COMMANDS:
            for path in bad:
                out = tmp_path / command / f"{path.stem}.png"
                code, _, err = _run_cli(capsys, *_cli_args(command, path, out, mask))
                assert code == 1, (command, path.name, err)
                assert err.count("\n") == 1 and path.name in err, (command, err)
                assert not out.exists()
                tally["bad images x CLI denoise/inpaint/detect-scratches/run-model"] += 1
        for path in bad:  # a bad mask is refused before any model is loaded
            code, _, err = _run_cli(capsys, "inpaint", odd[0], "--mask", path, "-o", tmp_path / "m.png")
            assert code == 1 and err.count("\n") == 1 and "cannot read the mask" in err, err
            tally["bad images x CLI inpaint --mask"] += 1
    assert not list(tmp_path.rglob(".*.tmp"))


def test_cli_commands_restore_every_odd_file(corpus, tiny_models, tmp_path, capsys, tally):
    _, odd = corpus
    with untouched(odd):
        for path in odd:
            px = load_image(path).pixels
            mask = tmp_path / f"{path.name}.mask.png"
            save_image(mask, np.full(px.shape[:2], 255, np.uint8))
            for command in CLI_COMMANDS:
                out = tmp_path / command / f"{path.stem}.png"
                code, _, err = _run_cli(capsys, *_cli_args(command, path, out, mask))
                assert code == 0 and not err, (command, path.name, err)
                assert load_image(out).pixels.shape[:2] == px.shape[:2]
                tally["odd images x CLI denoise/inpaint/detect-scratches/run-model"] += 1


def test_batch_names_each_bad_file_and_restores_the_rest(corpus, tiny_models, tmp_path, capsys, tally):
    from restorer_gui import cli

    if not hasattr(cli, "cmd_batch"):
        pytest.skip("`restorer batch` does not exist yet")
    from restorer_gui.core.batch import DEFAULT_PATTERNS

    bad, odd = corpus
    folder = tmp_path / "in"
    folder.mkdir()
    for path in _files(bad) + odd:
        shutil.copy(path, folder / path.name)
    inputs = sorted(folder.iterdir())
    with untouched(inputs):
        code, _out, err = _run_cli(capsys, "batch", folder, tmp_path / "out")
    assert code == 1
    suffixes = {pattern.lstrip("*").lower() for pattern in DEFAULT_PATTERNS.split(";")}
    matched = [p for p in inputs if p.suffix.lower() in suffixes]
    bad_names = {p.name for p in bad}
    failed_lines = [line for line in err.splitlines() if line.startswith("restorer: ") and "Log:" not in line]
    for path in matched:
        if path.name in bad_names:
            assert sum(path.name in line for line in failed_lines) == 1, (path.name, err)
            tally["bad images x CLI batch"] += 1
        else:
            tally["odd images x CLI batch"] += 1
    written = [p for p in (tmp_path / "out").rglob("*") if p.is_file()]
    assert len(written) == sum(1 for p in matched if p.name not in bad_names)
    assert not list(tmp_path.rglob(".*.tmp"))


# --------------------------------------------------------------------------- damaged projects


DAMAGED_MANIFESTS = {
    "version-infinite": lambda m: json.dumps(m).replace('"version": 1', '"version": 1e400'),
    "width-infinite": lambda m: json.dumps(m).replace('"width": 10', '"width": 1e400'),
    "nested-100k-deep": lambda m: '{"format": "restorer-gui project", "x": ' + "[" * 100_000 + "]" * 100_000 + "}",
    "layer-listed-500-times": lambda m: json.dumps({**m, "layers": m["layers"] * 500}),
    "layers-not-a-list": lambda m: json.dumps({**m, "layers": 5}),
    "layer-params-text": lambda m: json.dumps({**m, "layers": [{"file": "layer-000.tif", "params": "ab"}]}),
    "layer-escapes-folder": lambda m: json.dumps({**m, "layers": [{"file": "../../etc/passwd"}]}),
    "not-utf8": lambda m: b"\xff\xfe{}",
    "newer-version": lambda m: json.dumps({**m, "version": 99}),
}


def test_gui_opens_damaged_projects_with_one_dialog_each(window, dialogs, tmp_path, tally):
    members = project_members(tmp_path)
    manifest = json.loads(members["manifest.json"])
    paths = [write_project(tmp_path / f"{name}.rgproj", members, make(manifest))
             for name, make in DAMAGED_MANIFESTS.items()]
    with untouched(paths):
        for path in paths:
            before = len(dialogs.shown)
            assert not window.open_path(path)
            shown = dialogs.shown[before:]
            assert len(shown) == 1 and shown[0][0] == "critical" and path.name in shown[0][2], shown
            tally["damaged projects x GUI open"] += 1
    odd_selection = write_project(tmp_path / "selection.rgproj", members,
                                   json.dumps({**manifest, "selected_layer": "top"}))
    assert window.open_path(odd_selection) and window.model.selected_uid is None  # was a TypeError
