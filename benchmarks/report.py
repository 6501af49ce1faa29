"""Markdown table and PNG plots from a results dict; the README's benchmark section is replaced."""

from __future__ import annotations

from pathlib import Path

START, END = "<!-- benchmarks:start -->", "<!-- benchmarks:end -->"


def merge(previous: dict, results: dict, parts: list[str] | tuple[str, ...]) -> dict:
    """Today's results over an earlier run of the same day: parts that ran replace the earlier ones,
    except quality and memory, which are kept per task (a run of one model keeps the others), and the
    denoiser's quality, kept per set and σ while the model is the same (a run at one σ keeps the others)."""
    merged = {**previous, **results, "parts": sorted(set(previous.get("parts", [])) | set(parts))}
    for part in ("quality", "memory"):
        if part in results and part in previous:
            merged[part] = {**previous[part], **results[part]}
    old = (previous.get("quality") or {}).get("denoise") or {}
    new = (results.get("quality") or {}).get("denoise") or {}
    if old.get("figures") and new.get("figures") and old.get("model") == new.get("model"):
        figures = {name: dict(per_sigma) for name, per_sigma in old["figures"].items()}
        for name, per_sigma in new["figures"].items():
            figures.setdefault(name, {}).update(per_sigma)
        merged["quality"]["denoise"] = {**new, "figures": figures}
    return merged


def _ms(stats: dict) -> str:
    return f"{stats['median']:.1f} ({stats['min']:.1f}–{stats['max']:.1f})"


def _s(stats: dict) -> str:
    d = 3 if stats["median"] < 0.1 else 2  # GPU figures are hundredths of a second
    return f"{stats['median']:.{d}f} ({stats['min']:.{d}f}–{stats['max']:.{d}f})"


def scaling_by_device(scaling: dict | None) -> dict:
    """The speed part's time-against-size figures as {device: {megapixels: entry}} (files written before
    2026-11-22's second run hold one device's sizes directly: those were the CPU's)."""
    if not scaling:
        return {}
    if all(isinstance(e, dict) and "seconds" in e for e in scaling.values()):
        return {"cpu": scaling}
    return scaling


def markdown(results: dict) -> str:
    m = results["machine"]
    lines = [f"Machine: {m.get('cpu', '?')}, {m.get('cpus')} cores, {m.get('memory_gib')} GiB; "
             f"{results.get('device_note', 'CPU only')}; {results['date']}. Medians (min–max).", ""]
    quality = results.get("quality")
    if quality:
        lines += ["**Denoising, PSNR dB** (ours / CBM3D (bm3d) / OpenCV NLM in this run; FFDNet, DRUNet published)", "",
                  "| set | σ | ours | CBM3D | NLM | FFDNet (paper) | DRUNet (paper) | images |", "|---|---|---|---|---|---|---|---|"]
        den = quality.get("denoise", {})
        for set_name, per_sigma in (den.get("figures") or {}).items():
            for sigma, e in per_sigma.items():
                pub = e.get("published", {})
                cb = e.get("cbm3d")
                cb_text = f"{cb['psnr']:.2f} (n={cb['images']}; ours on those {e['ours_on_cbm3d_images']:.2f})" if cb and "ours_on_cbm3d_images" in e else (f"{cb['psnr']:.2f}" if cb else "–")
                lines.append(f"| {set_name} | {sigma} | {e['ours']['psnr']:.2f} | {cb_text} | {e['nlm']['psnr']:.2f} | "
                             f"{pub.get('FFDNet', '–')} | {pub.get('DRUNet', '–')} | {e['ours']['images']} |")
        if not den.get("figures"):
            lines.append(f"| – | – | {den.get('note', 'not run')} | | | | | |")
        inp = quality.get("inpaint", {})
        lines += ["", "**Inpainting, hole PSNR dB on Kodak24**", "", "| mask | ours | Telea | Navier–Stokes | margin |", "|---|---|---|---|---|"]
        for per_kind in (inp.get("figures") or {}).values():
            for kind, e in per_kind.items():
                lines.append(f"| {kind} | {e['psnr_ours']:.2f} | {e['psnr_telea']:.2f} | {e['psnr_ns']:.2f} | {e['margin_db']:+.2f} |")
        if not inp.get("figures"):
            lines.append(f"| – | {inp.get('note', 'not run')} | | | |")
        sc = quality.get("detect-scratches", {})
        lines += ["", "**Scratch detection** (held-out synthetic damage)", ""]
        for set_name, e in (sc.get("figures") or {}).items():
            cut = f" at probability cut {e['threshold']:.2f}" if "threshold" in e else ""
            lines.append(f"- {set_name}: precision {e['precision']:.3f}, recall {e['recall']:.3f}, F1 {e['f1']:.3f}{cut}")
        if not sc.get("figures"):
            lines.append(f"- {sc.get('note', 'not run')}")
        lines.append("")
    speed = results.get("speed")
    if speed:
        lines += ["**Speed, seconds per megapixel** (whole pipeline on a 1 MP photo; bare network on 512-px tiles)",
                  "", "| network | pipeline s/MP | network s/MP |", "|---|---|---|"]
        gpu_mib = any("peak_gpu_mib" in e for e in speed.get("models", {}).values())
        if gpu_mib:
            lines[-2:] = ["| network | pipeline s/MP | network s/MP | peak GPU MiB |", "|---|---|---|---|"]
        for name, e in speed.get("models", {}).items():
            net = e.get("network_seconds_per_mp")
            mib = f" {e['peak_gpu_mib']:.0f} |" if "peak_gpu_mib" in e else (" – |" if gpu_mib else "")
            lines.append(f"| {name} | {_s(e['seconds_per_mp'])} | {_s(net) if net else '–'} |{mib}")
        for name, e in speed.get("references", {}).items():
            lines.append(f"| {name} (random weights) | – | {_s(e['seconds_per_mp'])} |" + (" – |" if gpu_mib else ""))
        for key in ("ratio_ours_to_ffdnet", "ratio_ours_to_dncnn"):
            if key in speed:
                lines.append(f"| {key.replace('_', ' ')} (bare networks) | | {speed[key]:.2f}× |")
        scaling = scaling_by_device(speed.get("scaling"))
        if scaling:
            gpu = any("peak_gpu_mib" in e for per_size in scaling.values() for e in per_size.values())
            lines += ["", "**Denoise time by image size** (denoise-unet-s, whole pipeline, σ 25)", "",
                      "| device | MP | seconds | s/MP |" + (" peak GPU MiB |" if gpu else ""),
                      "|---|---|---|---|" + ("---|" if gpu else "")]
            for device, per_size in scaling.items():
                for mp, e in per_size.items():
                    mib = (f" {e['peak_gpu_mib']:.0f} |" if "peak_gpu_mib" in e else " – |") if gpu else ""
                    spm = e["seconds_per_mp"]
                    lines.append(f"| {device} | {mp} | {_s(e['seconds'])} | {spm:.{3 if spm < 0.01 else 2}f} |{mib}")
        tiling = speed.get("tiling")
        if tiling:
            lines += ["", f"Tiling cost on 1 MP: 256-px tiles {_s(tiling['tile_256_s'])} s against one 1024-px tile "
                          f"{_s(tiling['tile_1024_s'])} s: {tiling['overhead_256_vs_1024'] * 100:+.0f} %"]
        lines.append("")
    resp = results.get("responsiveness")
    if resp:
        lines += ["**Responsiveness**", "", "| what | ms |", "|---|---|"]
        for label, r in resp.get("brush", {}).items():
            lines.append(f"| brush move, 24 MP, {label} | {_ms(r['move_ms'])} |")
        rp = resp.get("repaint", {})
        if rp:
            lines.append(f"| zoom step + repaint, 24 MP | {_ms(rp['zoom_step_ms'])} |")
            lines.append(f"| pan step + repaint, 24 MP | {_ms(rp['pan_step_ms'])} |")
        if "startup_window_painted_s" in resp:
            st = resp["startup_window_painted_s"]
            lines.append(f"| launch to painted window | {st['median'] * 1000:.0f} ({st['min'] * 1000:.0f}–{st['max'] * 1000:.0f}) |")
        if "stall" in resp:
            lines.append(f"| longest GUI stall during a 12 MP CPU job | {_ms(resp['stall']['longest_stall_ms'])} |")
        lines.append("")
    memory = results.get("memory")
    if memory:
        lines += ["**Peak memory (whole process), MiB**", "", "| MP | " + " | ".join(memory) + " |",
                  "|---|" + "---|" * len(memory)]
        by_size = {t: {round(r["megapixels"]): r["peak_rss_mib"] for r in rows} for t, rows in memory.items()}
        for mp in sorted({mp for sizes in by_size.values() for mp in sizes}):
            cells = [f"{by_size[t][mp]:.0f}" if mp in by_size[t] else "–" for t in memory]
            lines.append(f"| {mp} | " + " | ".join(cells) + " |")
        lines.append("")
    batch = results.get("batch")
    if batch:
        lines += ["**Batch** (whole folder through the batch pipeline vs the model alone on the same photos)", "",
                  f"{batch.get('summary', 'not run')}", ""]
    return "\n".join(lines)


def plots(results: dict, stem: Path) -> list[Path]:
    """Scaling and memory plots as PNG; nothing when matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    made = []
    scaling = scaling_by_device((results.get("speed") or {}).get("scaling"))
    if scaling:
        fig, ax = plt.subplots(figsize=(5, 3.5))
        for device, per_size in scaling.items():
            mps = [float(k) for k in per_size]
            ax.loglog(mps, [per_size[k]["seconds"]["median"] for k in per_size], "o-", label=device)
        ax.legend()
        ax.set_xlabel("megapixels")
        ax.set_ylabel("seconds (denoise)")
        ax.grid(True, which="both", alpha=0.3)
        path = stem.with_name(stem.name + "-scaling.png")
        fig.tight_layout()
        fig.savefig(path, dpi=110)
        plt.close(fig)
        made.append(path)
    memory = results.get("memory")
    if memory:
        fig, ax = plt.subplots(figsize=(5, 3.5))
        for task, rows in memory.items():
            ax.plot([r["megapixels"] for r in rows], [r["peak_rss_mib"] for r in rows], "o-", label=task)
        ax.axhline(4096, color="red", ls="--", lw=1, label="4 GB target")
        ax.set_xlabel("megapixels")
        ax.set_ylabel("peak RSS (MiB)")
        ax.legend()
        ax.grid(True, alpha=0.3)
        path = stem.with_name(stem.name + "-memory.png")
        fig.tight_layout()
        fig.savefig(path, dpi=110)
        plt.close(fig)
        made.append(path)
    return made


def update_readme(readme: Path, table: str, source: str) -> bool:
    text = readme.read_text(encoding="utf-8")
    if START not in text or END not in text:
        return False
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    readme.write_text(f"{head}{START}\n_From `{source}`._\n\n{table}\n{END}{tail}", encoding="utf-8")
    return True
