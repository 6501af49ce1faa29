import json

from restorer_gui import settings


def test_round_trip_and_bad_values_fall_back(isolated_home):
    s = settings.Settings()
    s.add_recent("/a/b.png")
    s.max_image_megapixels = 50.0
    settings.save(s)
    loaded = settings.load()
    assert loaded.recent_files == s.recent_files and loaded.max_image_pixels == 50_000_000
    settings.settings_file().write_text(json.dumps({"max_image_megapixels": 80, "brush_size": "huge", "x": 1}))
    loaded = settings.load()
    assert loaded.max_image_megapixels == 80.0 and loaded.brush_size == settings.Settings().brush_size
    settings.settings_file().write_text("{not json")
    assert settings.load() == settings.Settings()


def test_recent_files_are_unique_and_bounded():
    s = settings.Settings()
    for i in range(15):
        s.add_recent(f"/p/{i}.png")
    s.add_recent("/p/3.png")
    assert len(s.recent_files) == settings.MAX_RECENT and s.recent_files[0].endswith("3.png")
    assert len(set(s.recent_files)) == len(s.recent_files)
