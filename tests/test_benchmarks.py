"""The benchmark harness itself: the batch measurement runs end to end and the report shows it."""

from __future__ import annotations

import json

from benchmarks import bench_batch, report


def test_batch_measure_runs_all_phases_on_a_tiny_folder(tmp_path):
    payload = bench_batch.measure(3, 2, 96, 64, tmp_path / "cache", nc=[4, 8, 8, 8], nb=1)
    assert payload["images"]["count"] == 3 and payload["batch"]["files"] == 3
    assert payload["batch_small"]["files"] == 2
    assert payload["model_only"]["per_image_seconds"]["n"] == 3
    assert payload["batch"]["wall_seconds"] > 0 and payload["ratio_batch_to_model"] > 0
    assert payload["batch"]["peak_rss_mib"] > 50  # a child that imported torch
    json.dumps(payload)  # serialisable as the results file
    # photos were generated once and reused; the temporary outputs are gone
    assert len(list((tmp_path / "cache" / "96x64" / "all").glob("*.jpg"))) == 3
    assert not [p for p in (tmp_path / "cache").iterdir() if p.name.startswith("tmp")]


def test_report_shows_every_part_that_ran():
    results = {
        "machine": {"cpu": "Test CPU", "cpus": 2, "memory_gib": 4.0},
        "date": "2026-01-01",
        "quality": {
            "denoise": {"figures": {"CBSD68": {"25": {"ours": {"psnr": 30.95, "images": 68}, "nlm": {"psnr": 26.5},
                                                      "cbm3d": {"psnr": 30.7, "images": 68},
                                                      "published": {"FFDNet": 31.21, "DRUNet": 31.69}}}}},
            "inpaint": {"figures": {"Kodak24": {"wide": {"psnr_ours": 24.0, "psnr_telea": 21.9, "psnr_ns": 21.7,
                                                         "margin_db": 2.1}}}},
            "detect-scratches": {"figures": {"Kodak24": {"precision": 0.8, "recall": 0.7, "f1": 0.747}}},
        },
        "batch": {"summary": "12 × 6 MP JPEGs: ratio 1.03"},
    }
    text = report.markdown(results)
    assert "| CBSD68 | 25 | 30.95 | 30.70 | 26.50 | 31.21 | 31.69 | 68 |" in text
    assert "| wide | 24.00 | 21.90 | 21.70 | +2.10 |" in text
    assert "F1 0.747" in text and "12 × 6 MP JPEGs: ratio 1.03" in text


def test_a_partial_run_keeps_the_other_tasks_figures():
    from benchmarks import report

    before = {"parts": ["memory", "speed"], "speed": {"x": 1},
              "memory": {"denoise": [{"megapixels": 1, "peak_rss_mib": 900}], "inpaint": [{"peak_rss_mib": 4870}]}}
    now = {"memory": {"inpaint": [{"megapixels": 1, "peak_rss_mib": 680}]}}
    merged = report.merge(before, now, ["memory"])
    assert merged["memory"]["denoise"] == before["memory"]["denoise"]
    assert merged["memory"]["inpaint"] == now["memory"]["inpaint"]
    assert merged["speed"] == {"x": 1} and merged["parts"] == ["memory", "speed"]


def _stats(median: float) -> dict:
    return {"median": median, "min": median - 0.1, "max": median + 0.2, "n": 3}


def test_report_shows_time_by_size_per_device_with_min_and_max():
    entry = {"seconds": _stats(13.5), "seconds_per_mp": 13.5 / 16}
    speed = {"scaling": {"cpu": {"16": entry}, "cuda": {"16": {"seconds": _stats(0.9), "seconds_per_mp": 0.9 / 16}}},
             "tiling": {"tile_256_s": _stats(0.55), "tile_1024_s": _stats(0.7), "overhead_256_vs_1024": 0.55 / 0.7 - 1}}
    results = {"machine": {"cpu": "Test CPU", "cpus": 2, "memory_gib": 4.0}, "date": "2026-01-01", "speed": speed}
    text = report.markdown(results)
    assert "| cpu | 16 | 13.50 (13.40–13.70) | 0.84 |" in text
    assert "| cuda | 16 | 0.90 (0.80–1.10) | 0.06 |" in text
    assert "256-px tiles 0.55 (0.45–0.75) s against one 1024-px tile 0.70 (0.60–0.90) s: -21 %" in text
    # a results file from before the per-device layout: its sizes were the CPU's
    old = dict(results, speed={"scaling": {"16": entry}})
    assert "| cpu | 16 | 13.50 (13.40–13.70) | 0.84 |" in report.markdown(old)


def test_a_run_at_one_noise_level_keeps_the_others_figures():
    def entry(psnr: float, n: int) -> dict:
        return {"ours": {"psnr": psnr, "images": n}, "cbm3d": {"psnr": psnr - 0.1, "images": n}, "nlm": {"psnr": 20.0}}

    before = {"parts": ["quality"], "quality": {
        "denoise": {"model": "d", "figures": {"CBSD68": {"15": entry(34.0, 6), "25": entry(31.4, 6)}}},
        "inpaint": {"model": "i", "figures": {}}}}
    now = {"quality": {"denoise": {"model": "d", "figures": {"CBSD68": {"25": entry(30.9, 68)}, "Kodak24": {"25": entry(31.9, 24)}}}}}
    merged = report.merge(before, now, ["quality"])
    figures = merged["quality"]["denoise"]["figures"]
    assert figures["CBSD68"]["15"] == entry(34.0, 6) and figures["CBSD68"]["25"] == entry(30.9, 68)
    assert figures["Kodak24"] == {"25": entry(31.9, 24)} and merged["quality"]["inpaint"]["model"] == "i"
    assert before["quality"]["denoise"]["figures"]["CBSD68"]["25"] == entry(31.4, 6)  # the earlier file's dict untouched
    # another model's figures are not mixed with the new model's
    other = {"quality": {"denoise": {"model": "e", "figures": {"CBSD68": {"25": entry(30.0, 68)}}}}}
    assert report.merge(before, other, ["quality"])["quality"]["denoise"]["figures"] == {"CBSD68": {"25": entry(30.0, 68)}}


def test_bad_noise_levels_are_refused_before_anything_runs(capsys):
    import pytest

    from benchmarks.__main__ import main

    for bad in ("x", "0", ""):
        with pytest.raises(SystemExit) as stop:
            main(["--parts", "quality", "--sigmas", bad, "--no-readme"])
        assert stop.value.code == 2 and "--sigmas" in capsys.readouterr().err


def test_report_shows_peak_gpu_memory_where_a_cuda_run_measured_it():
    cuda = {"seconds": {"median": 0.032, "min": 0.028, "max": 0.04, "n": 3}, "seconds_per_mp": 0.032 / 4,
            "peak_gpu_mib": 812.4}
    speed = {"models": {"denoise-unet-s@cuda": {"seconds_per_mp": _stats(0.02) | {"median": 0.02, "min": 0.019,
                                                                                   "max": 0.025},
                                                 "peak_gpu_mib": 640.0},
                        "denoise-unet-s@cpu": {"seconds_per_mp": _stats(0.64)}},
             "references": {"dncnn-sized@cuda": {"seconds_per_mp": _stats(0.5)}},
             "scaling": {"cpu": {"4": {"seconds": _stats(2.5), "seconds_per_mp": 2.5 / 4}}, "cuda": {"4": cuda}}}
    results = {"machine": {"cpu": "Test CPU", "cpus": 16, "memory_gib": 128.0}, "date": "2026-01-01",
               "device_note": "CUDA: NVIDIA H100", "speed": speed}
    text = report.markdown(results)
    assert "| network | pipeline s/MP | network s/MP | peak GPU MiB |" in text
    assert "| denoise-unet-s@cuda | 0.020 (0.019–0.025) | – | 640 |" in text
    assert "| denoise-unet-s@cpu | 0.64 (0.54–0.84) | – | – |" in text
    assert "| device | MP | seconds | s/MP | peak GPU MiB |" in text
    assert "| cuda | 4 | 0.032 (0.028–0.040) | 0.008 | 812 |" in text
    assert "| cpu | 4 | 2.50 (2.40–2.70) | 0.62 | – |" in text
    assert "CUDA: NVIDIA H100" in text


def test_the_dncnn_reference_is_built_without_spandrel(monkeypatch):
    import sys

    import torch

    from benchmarks import speed

    monkeypatch.setitem(sys.modules, "spandrel", None)
    monkeypatch.setitem(sys.modules, "spandrel.architectures", None)
    monkeypatch.setitem(sys.modules, "spandrel.architectures.DnCNN", None)
    net = speed.dncnn_sized()
    convs = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == 17 and all(c.out_channels == 64 for c in convs[:-1])
    with torch.inference_mode():
        assert net(torch.rand(1, 3, 24, 24)).shape == (1, 3, 24, 24)
