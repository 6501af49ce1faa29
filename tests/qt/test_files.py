import hashlib

import numpy as np
from PIL import Image
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QMessageBox

from restorer_gui.core import imageio


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def make_exif(**tags):
    exif = Image.Exif()
    exif[0x010F] = tags.get("make", "ScanCo")
    exif[0x0110] = tags.get("model", "Flatbed 9000")
    return exif.tobytes()


def srgb_icc() -> bytes:
    from PIL import ImageCms

    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def write_16bit_tiff(path, rng, icc):
    pixels = rng.integers(0, 65536, (120, 160, 3), dtype=np.uint16)
    imageio.save_image(path, pixels, icc_profile=icc, exif=make_exif())
    return pixels


def test_open_paint_undo_add_compare_save_keeps_16_bits_and_metadata(window, tmp_path, dialogs, qtbot):
    rng = np.random.default_rng(1)
    src = tmp_path / "scan.tif"
    icc = srgb_icc()
    pixels = write_16bit_tiff(src, rng, icc)
    before = digest(src)
    assert window.open_path(src)
    model = window.model
    assert model.doc.bit_depth == 16 and model.doc.original.dtype == np.uint16
    np.testing.assert_array_equal(model.doc.original, pixels)
    window.view.zoom_100()
    p = window.view.mapFromScene(QPointF(30, 30))
    qtbot.mousePress(window.view.viewport(), Qt.MouseButton.LeftButton, pos=p)
    qtbot.mouseRelease(window.view.viewport(), Qt.MouseButton.LeftButton, pos=p)
    assert model.doc.mask.max() == 255
    window.act_undo.trigger()
    assert model.doc.mask.max() == 0
    result = rng.integers(0, 65536, pixels.shape, dtype=np.uint16)
    layer_file = tmp_path / "result.png"
    imageio.save_image(layer_file, result)
    assert window.import_layer(layer_file)
    np.testing.assert_array_equal(model.doc.layers[0].pixels, result)
    window.act_compare.trigger()
    assert window.view.compare
    out = tmp_path / "restored.tif"
    assert window.save_to(out)
    saved = imageio.load_image(out)
    assert saved.pixels.dtype == np.uint16
    np.testing.assert_array_equal(saved.pixels, result)
    assert saved.icc_profile == icc
    exif = Image.Exif()
    exif.load(saved.exif)
    assert exif[0x010F] == "ScanCo" and exif[0x0110] == "Flatbed 9000"
    assert digest(src) == before
    # the exported picture does not hold the layer: the photo is still unsaved until a project is
    assert model.modified and window.isWindowModified()
    assert window.save_project_to(tmp_path / "scan.rgproj")
    assert not model.modified and not window.isWindowModified()
    assert not [f for f in tmp_path.iterdir() if f.name.endswith(".tmp")]


def test_saving_over_the_original_needs_confirmation(window, tmp_path, dialogs):
    src = tmp_path / "photo.png"
    imageio.save_image(src, np.full((20, 30, 3), 77, np.uint8))
    before = digest(src)
    window.open_path(src)
    layer = window.model.doc.make_layer("white", np.full((20, 30, 3), 255, np.uint8))
    window.model.add_layer(layer)
    dialogs.answer = QMessageBox.StandardButton.No
    assert not window.save_to(src)
    assert digest(src) == before and dialogs.shown[-1][0] == "warning"
    dialogs.answer = QMessageBox.StandardButton.Yes
    assert window.save_to(src)
    assert imageio.load_image(src).pixels.min() == 255


def test_suggested_name_is_not_the_original(window, tmp_path):
    src = tmp_path / "scan.jpg"
    imageio.save_image(src, np.zeros((10, 10, 3), np.uint8))
    window.open_path(src)
    assert window.suggested_save_path() == tmp_path / "scan-restored.jpg"


def test_corrupt_and_non_image_files_show_an_error_and_keep_the_document(window, tmp_path, dialogs):
    good = tmp_path / "good.png"
    imageio.save_image(good, np.zeros((10, 10, 3), np.uint8))
    assert window.open_path(good)
    model = window.model
    bad_cases = {
        "truncated.png": good.read_bytes()[:40],
        "empty.jpg": b"",
        "notes.txt": b"hello, not a picture",
        "random.tif": bytes(np.random.default_rng(0).integers(0, 256, 3000, dtype=np.uint8)),
    }
    for name, data in bad_cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        assert not window.open_path(path)
        kind, title, text = dialogs.shown[-1]
        assert kind == "critical" and name in text and "\n" not in text and "Traceback" not in text
        assert window.model is model


def test_decompression_bomb_is_refused(window, tmp_path, dialogs):
    window.settings.max_image_megapixels = 0.001  # 1000 pixels
    path = tmp_path / "big.png"
    imageio.save_image(path, np.zeros((100, 100, 3), np.uint8))
    assert not window.open_path(path)
    assert "megapixels" in dialogs.shown[-1][2]


def test_drop_a_file_onto_the_window_opens_it(window, tmp_path):
    path = tmp_path / "dropped.png"
    imageio.save_image(path, np.full((12, 14, 3), 9, np.uint8))
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    event = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    window.dropEvent(event)
    assert window.model is not None and window.model.doc.path == path
    assert window.model.doc.width == 14


def test_recent_files_menu_reopens(window, tmp_path):
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    for p in (a, b):
        imageio.save_image(p, np.zeros((5, 5, 3), np.uint8))
        window.open_path(p)
    titles = [act.text() for act in window.recent_menu.actions()]
    assert titles == ["b.png", "a.png"]
    window.recent_menu.actions()[1].trigger()
    assert window.model.doc.path.name == "a.png"


def test_unsaved_changes_are_asked_about(window, tmp_path, dialogs):
    a = tmp_path / "a.png"
    imageio.save_image(a, np.zeros((5, 5, 3), np.uint8))
    window.open_path(a)
    window.act_fill.trigger()
    dialogs.answer = QMessageBox.StandardButton.Cancel
    assert not window.open_path(a)
    # a painted mask is work a picture cannot hold: the question is about the project
    assert dialogs.shown[-1][:2] == ("box", "Save the project?") and window.model.doc.mask.min() == 255
    dialogs.answer = QMessageBox.StandardButton.Discard
    assert window.open_path(a) and window.model.doc.mask.max() == 0
    window.act_fill.trigger()
    window.act_clear.trigger()  # changed, but nothing a picture cannot hold: the old question
    dialogs.answer = QMessageBox.StandardButton.Cancel
    assert not window.open_path(a)
    assert dialogs.shown[-1][:2] == ("question", "Unsaved changes")


def test_import_and_export_mask(window, tmp_path):
    src = tmp_path / "p.png"
    imageio.save_image(src, np.zeros((40, 60, 3), np.uint8))
    window.open_path(src)
    mask_file = tmp_path / "m.png"
    m = np.zeros((40, 60, 1), np.uint8)
    m[5:10, 20:30] = 255
    imageio.save_image(mask_file, m)
    assert window.import_mask(mask_file)
    np.testing.assert_array_equal(window.model.doc.mask, m[..., 0])
    out = tmp_path / "exported.png"
    assert window.export_mask(out)
    np.testing.assert_array_equal(imageio.load_image(out).pixels[..., 0], m[..., 0])
    window.act_undo.trigger()
    assert window.model.doc.mask.max() == 0


def test_import_layer_of_the_wrong_size_is_refused(window, tmp_path, dialogs):
    src, other = tmp_path / "p.png", tmp_path / "o.png"
    imageio.save_image(src, np.zeros((40, 60, 3), np.uint8))
    imageio.save_image(other, np.zeros((41, 60, 3), np.uint8))
    window.open_path(src)
    assert not window.import_layer(other)
    assert "same size" in dialogs.shown[-1][2] and not window.model.doc.layers


def test_sample_photo_opens_from_help_menu(window):
    window.act_sample.trigger()
    assert window.model is not None and window.model.doc.width >= 400
    assert window.welcome.sample_button.text()


def test_export_keeps_the_scan_resolution_and_png_gamma(window, tmp_path):
    src = tmp_path / "scan.png"
    gama = (45455).to_bytes(4, "big")
    imageio.save_image(src, np.full((12, 16, 3), 80, np.uint16), dpi=(1200, 1200), color_chunks={"gAMA": gama})
    assert window.open_path(src)
    window.model.add_layer(window.model.doc.make_layer("lighter", np.full((12, 16, 3), 900, np.uint16)))
    for name in ("out.png", "out.jpg", "out.tif"):
        assert window.save_to(tmp_path / name)
        assert imageio.load_image(tmp_path / name).dpi == (1200.0, 1200.0), name
    assert imageio.load_image(tmp_path / "out.png").color_chunks == {"gAMA": gama}
    window.act_fill.trigger()
    assert window.export_mask(tmp_path / "mask.png")
    assert imageio.load_image(tmp_path / "mask.png").dpi == (1200.0, 1200.0)  # lines up with the print
