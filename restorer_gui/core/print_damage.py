"""Damage that looks like real old prints, laid on before the print is aged and scanned (numpy + Pillow).

`degradations` draws thin random curves and specks; real damaged prints show more than that: branching
crack webs and craquelure in the emulsion, creases with a light and a shaded side, torn edges with a
fibrous white rim, emulsion loss and flaking (paper showing through in ragged patches), foxing spots,
lint, hairs and dust, and film-style vertical scratches. Breaks have rims: a darker or lighter halo
where the emulsion lifted. `damage_print` lays a random mix of them on a clean photo, then ages it the
way a scan would (fading and cast before the damage, scanner blur, grain, noise and JPEG after), and
returns the damaged image with a soft mask that covers each defect *including its rim* — what a
retoucher would paint over.

Conventions as in `degradations`: float32 images in [0, 1], H×W masks in [0, 1] (1 = damage),
an explicit ``np.random.Generator`` everywhere, deterministic for it.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from restorer_gui.core import degradations as deg
from restorer_gui.core.degradations import FloatArray, _Canvas, _curve, _prep, _done, _smooth_field, _smooth_noise_1d

__all__ = [
    "DAMAGE_COLOURS",
    "PRINT_DAMAGE_KINDS",
    "crack_web_mask",
    "craquelure_mask",
    "damage_print",
    "flaking_mask",
    "foxing_mask",
    "lint_mask",
    "paint_damage",
    "paper_relief",
    "photo_lines",
    "print_border",
    "rim_of",
    "visible_change",
]

#: The colours a break shows (RGB at full level): bare paper, cream and yellowed paper, dark backing.
DAMAGE_COLOURS: dict[str, tuple[float, float, float]] = {
    "white": (0.97, 0.97, 0.96),
    "cream": (0.95, 0.91, 0.80),
    "yellowed": (0.90, 0.80, 0.58),
    "dark": (0.10, 0.09, 0.08),
}

#: A change of this many levels (0–1 scale) or more is fully visible damage (about 15 of 255).
VISIBLE_STEP = 0.06

#: Every kind `damage_print` can lay down (the ``kinds`` argument picks among them).
PRINT_DAMAGE_KINDS = (
    "crack_web", "craquelure", "crease", "tear", "flaking", "foxing", "dust", "lint", "film_scratches",
)


# ---------------------------------------------------------------------------------------------------------
# masks


def crack_web_mask(
    h: int, w: int, rng: np.random.Generator, count: int = 1, width_range: tuple[float, float] = (1.0, 3.0),
    depth: int = 4,
) -> FloatArray:
    """Branching crack networks: a wandering trunk that forks again and again into thinner, shorter cracks
    (the dendritic webs of a cracked emulsion). Widths in pixels at the trunk; branches narrow by 0.55–0.85."""
    cv = _Canvas(h, w)
    diag = math.hypot(h, w)

    def grow(start: tuple[float, float], heading: float, length: float, width: float, level: int) -> None:
        pts = _curve(rng, start, heading, length, 1.0, rng.uniform(0.004, 0.02), rng.uniform(6.0, 20.0))
        # jitter: real cracks zig-zag at the pixel scale
        jit = np.stack([_smooth_noise_1d(len(pts), rng, 1.5), _smooth_noise_1d(len(pts), rng, 1.5)], 1)
        pts = pts + 0.35 * jit
        n = len(pts)
        taper = np.linspace(1.0, rng.uniform(0.15, 0.5), n)
        hw = 0.5 * width * taper * np.clip(0.85 + 0.25 * _smooth_noise_1d(n, rng, 6.0), 0.4, 1.2)
        cv.stroke(pts, np.maximum(hw, 0.3))
        if level >= depth or length < 6:
            return
        forks = int(rng.poisson(length / rng.uniform(18.0, 40.0)))
        for _ in range(forks):
            i = int(rng.integers(max(1, n // 8), n))
            d = pts[min(i + 1, n - 1)] - pts[max(i - 1, 0)]
            base = math.atan2(d[1], d[0])
            side = rng.choice([-1.0, 1.0])
            grow(tuple(pts[i]), base + side * rng.uniform(0.3, 1.2), length * rng.uniform(0.25, 0.6),
                 max(width * taper[i] * rng.uniform(0.55, 0.85), 0.6), level + 1)

    for _ in range(int(count)):
        if rng.random() < 0.5:  # from a side, into the picture
            side = int(rng.integers(4))
            start = deg._edge_point(side, rng.uniform(0.1, 0.9), h, w, out=0.0)
            heading = [math.pi / 2, math.pi, -math.pi / 2, 0.0][side] + rng.normal(0.0, 0.5)
        else:
            start = (rng.uniform(0, w), rng.uniform(0, h))
            heading = rng.uniform(0, 2 * math.pi)
        grow(start, heading, rng.uniform(0.25, 0.8) * diag, rng.uniform(*width_range), 0)
    return cv.result()


def craquelure_mask(
    h: int, w: int, rng: np.random.Generator, cell_range: tuple[float, float] = (10.0, 40.0),
    width_range: tuple[float, float] = (0.7, 2.0), coverage: float = 0.6,
) -> FloatArray:
    """Craquelure: cracks along the edges of irregular cells (a warped Voronoi tiling), present in patches
    (``coverage`` of the area, roughly) with some edges missing, as an aged emulsion or varnish splits."""
    cell = float(rng.uniform(*cell_range))
    half = 0.5 * float(rng.uniform(*width_range))
    gh, gw = math.ceil(h / cell) + 2, math.ceil(w / cell) + 2
    seeds = (np.stack(np.mgrid[0:gh, 0:gw], -1) - 1 + rng.uniform(0.1, 0.9, (gh, gw, 2))) * cell  # (y, x)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    warp = 0.25 * cell
    py = yy + warp * _smooth_field(h, w, rng, cell * 1.5)
    px = xx + warp * _smooth_field(h, w, rng, cell * 1.5)
    cy = np.clip((py / cell).astype(np.int64) + 1, 1, gh - 2)
    cx = np.clip((px / cell).astype(np.int64) + 1, 1, gw - 2)
    best = np.full((2, h, w), np.inf, np.float32)
    lab = np.zeros((2, h, w), np.int64)
    pos = np.zeros((2, h, w, 2), np.float32)
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            sy, sx = cy + dy, cx + dx
            s = seeds[sy, sx]
            d = np.hypot(s[..., 0] - py, s[..., 1] - px).astype(np.float32)
            idx = sy * gw + sx
            first = d < best[0]
            second = ~first & (d < best[1])
            best[1] = np.where(first, best[0], np.where(second, d, best[1]))
            lab[1] = np.where(first, lab[0], np.where(second, idx, lab[1]))
            pos[1] = np.where(first[..., None], pos[0], np.where(second[..., None], s, pos[1]))
            best[0] = np.where(first, d, best[0])
            lab[0] = np.where(first, idx, lab[0])
            pos[0] = np.where(first[..., None], s, pos[0])
    gap = np.maximum(np.hypot(*(pos[1] - pos[0]).transpose(2, 0, 1)), 1e-3)
    dist = (best[1] ** 2 - best[0] ** 2) / (2.0 * gap)  # distance to the bisector of the two nearest seeds
    lo, hi = np.minimum(lab[0], lab[1]), np.maximum(lab[0], lab[1])
    edge_rand = ((lo * 73856093) ^ (hi * 19349663) ^ int(rng.integers(1 << 30))) % 1009 / 1009.0
    keep = edge_rand < rng.uniform(0.55, 0.95)
    region = _smooth_field(h, w, rng, max(h, w) / rng.uniform(1.5, 4.0)) > (0.5 - coverage) * 2.0
    m = np.clip(half + 0.5 - dist, 0.0, 1.0) * keep * region
    return m.astype(np.float32)


def _blob(h: int, w: int, rng: np.random.Generator, cx: float, cy: float, r: float, rough: float) -> tuple:
    """A ragged blob around (cx, cy) of radius ~r: a soft box (y0, y1, x0, x1) and its coverage."""
    reach = r * 1.8 + 2
    x0, x1 = max(int(cx - reach), 0), min(int(cx + reach) + 1, w)
    y0, y1 = max(int(cy - reach), 0), min(int(cy + reach) + 1, h)
    if x1 <= x0 or y1 <= y0:
        return (0, 0, 0, 0), np.zeros((0, 0), np.float32)
    yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    aspect = rng.uniform(0.5, 1.0)
    ang = rng.uniform(0, math.pi)
    dx, dy = xx - cx, yy - cy
    u = dx * math.cos(ang) + dy * math.sin(ang)
    v = (-dx * math.sin(ang) + dy * math.cos(ang)) / aspect
    rn = np.hypot(u, v) / max(r, 0.5)
    bh, bw = y1 - y0, x1 - x0
    field = 0.55 * _smooth_field(bh, bw, rng, max(r / 2.0, 1.5)) + rough * _smooth_field(bh, bw, rng, max(r / 8.0, 0.8))
    cover = np.clip((1.0 - rn + 0.35 * field) * max(r, 1.0) / 1.5, 0.0, 1.0)
    return (y0, y1, x0, x1), cover.astype(np.float32)


def flaking_mask(
    h: int, w: int, rng: np.random.Generator, count: int = 3, size_range: tuple[float, float] = (3.0, 30.0)
) -> FloatArray:
    """Emulsion loss and flaking: irregular patches with ragged, fibrous edges (radius log-uniform in
    ``size_range`` pixels), often in clusters of smaller flakes around a larger one."""
    out = np.zeros((h, w), np.float32)
    lo, hi = size_range
    for _ in range(int(count)):
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
        r = lo * (hi / lo) ** rng.random()
        flakes = [(cx, cy, r)]
        for _ in range(int(rng.poisson(2.0))):
            a, d = rng.uniform(0, 2 * math.pi), r * rng.uniform(1.0, 2.5)
            flakes.append((cx + d * math.cos(a), cy + d * math.sin(a), r * rng.uniform(0.15, 0.45)))
        for fx, fy, fr in flakes:
            (y0, y1, x0, x1), cover = _blob(h, w, rng, fx, fy, fr, rough=rng.uniform(0.3, 0.8))
            if cover.size:
                out[y0:y1, x0:x1] = np.maximum(out[y0:y1, x0:x1], cover)
    return out


def foxing_mask(h: int, w: int, rng: np.random.Generator, count: int = 10,
                size_range: tuple[float, float] = (1.5, 8.0)) -> FloatArray:
    """Foxing and silvering spots: small roundish spots with a denser core and a soft edge, clustered."""
    out = np.zeros((h, w), np.float32)
    lo, hi = size_range
    centre = (rng.uniform(0, w), rng.uniform(0, h))
    spread = rng.uniform(0.1, 0.5) * max(h, w)
    for _ in range(int(count)):
        cx, cy = centre + rng.normal(0.0, spread, 2)
        if not (0 <= cx < w and 0 <= cy < h):
            continue
        r = lo * (hi / lo) ** rng.random()
        (y0, y1, x0, x1), cover = _blob(h, w, rng, cx, cy, r, rough=0.15)
        if cover.size:
            out[y0:y1, x0:x1] = np.maximum(out[y0:y1, x0:x1], cover * rng.uniform(0.6, 1.0))
    return out


def lint_mask(h: int, w: int, rng: np.random.Generator, count: int = 3,
              width_range: tuple[float, float] = (0.6, 1.6)) -> FloatArray:
    """Lint and hairs: long, thin, curling fibres, some of them looped."""
    cv = _Canvas(h, w)
    for _ in range(int(count)):
        length = rng.uniform(0.05, 0.4) * max(h, w)
        pts = _curve(rng, (rng.uniform(0, w), rng.uniform(0, h)), rng.uniform(0, 2 * math.pi), length, 0.75,
                     rng.uniform(0.02, 0.12), rng.uniform(3.0, 12.0))
        width = rng.uniform(*width_range)
        cv.stroke(pts, 0.5 * width * np.clip(0.9 + 0.2 * _smooth_noise_1d(len(pts), rng, 8.0), 0.5, 1.2)
                  * deg._taper(len(pts), 0.05))
    return cv.result()


def paper_relief(h: int, w: int, rng: np.random.Generator) -> FloatArray:
    """The relief of torn paper fibres as a scanner sees it: a rough height field (cells 1.5–4 px, with
    coarser lumps) shaded by light from one side, so bumps show a bright and a dark flank. Zero mean,
    unit std."""
    height = _smooth_field(h, w, rng, float(rng.uniform(1.5, 4.0))) + 0.6 * _smooth_field(h, w, rng, float(rng.uniform(6.0, 14.0)))
    a = rng.uniform(0.0, 2.0 * math.pi)
    gy, gx = np.gradient(height)
    shade = math.cos(a) * gx + math.sin(a) * gy
    return ((shade - shade.mean()) / max(float(shade.std()), 1e-6)).astype(np.float32)


def rim_of(mask: npt.ArrayLike, width: float) -> FloatArray:
    """The soft band just outside ``mask`` (a break's halo), ``width`` pixels wide; 0 inside the mask."""
    m = deg.to_float(mask)
    grown = np.clip(deg.gaussian_blur(m, max(width, 0.3)) * 3.0, 0.0, 1.0)
    return np.clip(grown - m, 0.0, 1.0).astype(np.float32)


def print_border(img: npt.ArrayLike, rng: np.random.Generator) -> FloatArray:
    """A straight print border or scanner margin along one or two sides (white, cream or black, clean
    edge): part of the photograph, not damage, so it never enters a damage mask."""
    a, shape = _prep(img)
    h, w, c = a.shape
    out = a.copy()
    colour = deg._fit_channels(np.asarray(DAMAGE_COLOURS[str(rng.choice(["white", "cream", "dark"]))]), c)
    for side in rng.choice(4, size=int(rng.integers(1, 3)), replace=False):
        d = int(rng.integers(3, max(4, min(h, w) // 5)))
        sl = {0: np.s_[:d, :], 1: np.s_[:, w - d:], 2: np.s_[h - d:, :], 3: np.s_[:, :d]}[int(side)]
        out[sl] = colour + np.float32(0.01) * rng.standard_normal(out[sl].shape, dtype=np.float32)
    return _done(out, shape)


# ---------------------------------------------------------------------------------------------------------
# painting


def paint_damage(
    img: npt.ArrayLike, mask: npt.ArrayLike, rng: np.random.Generator, colour: str = "white",
    opacity: float = 1.0, rim: float = 0.0, rim_width: float = 1.0, paper: float = 0.0,
) -> tuple[FloatArray, FloatArray]:
    """Paint ``mask`` in a damage colour (see DAMAGE_COLOURS) with paper texture, plus a rim around it.

    ``rim`` > 0 darkens the band around the break by that fraction (lifted emulsion casts a dark edge),
    < 0 lightens it. ``paper`` > 0 adds the embossed fibre relief of bare paper (a loss's torn base, lit
    from one side; its contrast in levels/255 ≈ 60 × paper) to the flat colour. Returns (image, visible
    damage): `visible_change` of the painting, so the mask covers the break and its halo wherever they
    show, and a detector trained on it learns to cover the halo too. Pixels outside mask and rim are
    bit-identical.
    """
    a, shape = _prep(img)
    h, w, c = a.shape
    m = deg.to_float(mask)
    if m.shape != (h, w):
        raise ValueError(f"mask shape {m.shape} does not match image {(h, w)}")
    if not (m > 0).any():
        return _done(a.copy(), shape), np.zeros((h, w), np.float32)
    level = rng.uniform(0.9, 1.03) if colour != "dark" else rng.uniform(0.6, 1.6)
    base = deg._fit_channels(np.clip(np.asarray(DAMAGE_COLOURS[colour]) * level, 0.0, 1.0), c)
    tex = 0.03 * _smooth_field(h, w, rng, 2.0)[:, :, None] + 0.02 * _smooth_field(h, w, rng, 12.0)[:, :, None]
    if paper > 0:
        tex = tex + np.float32(paper) * paper_relief(h, w, rng)[:, :, None]
    target = np.clip(base + tex, 0.0, 1.0)
    mv = (m * np.float32(opacity))[:, :, None]
    out = a + mv * (target - a)
    touched = m > 0
    if rim != 0.0:
        band = rim_of(m, rim_width)
        out = out * (1.0 - np.float32(rim) * band[:, :, None])
        touched |= band > 0
    out = np.where(touched[:, :, None], np.clip(out, 0.0, 1.0), a)
    return _done(out, shape), visible_change(a, out)


def visible_change(before: npt.ArrayLike, after: npt.ArrayLike, full: float = VISIBLE_STEP) -> FloatArray:
    """How visible a change is, per pixel: the largest channel difference over ``full`` (a step of
    ``full`` or more counts as wholly damaged), clipped to [0, 1]. A break painted in the colour of what
    it covers is no damage a person sees, and a detector should not be taught to find it."""
    b, _ = _prep(before)
    d = np.abs(_prep(after)[0] - b).max(axis=2)
    return np.clip(d / np.float32(full), 0.0, 1.0).astype(np.float32)


def photo_lines(img: npt.ArrayLike, rng: np.random.Generator, scale: float = 1.0) -> FloatArray:
    """Thin lines that belong to the photo, not to its damage (hard negatives for a detector): a striped
    or pinstriped garment patch, or a few long straight edges such as window frames, poles and wires,
    dark or light, 1–3 px wide. Drawn before the damage, so they are part of the truth."""
    a, shape = _prep(img)
    h, w, c = a.shape
    lin = float(scale)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    out = a.copy()
    for _ in range(int(rng.integers(1, 3))):
        tone = np.float32(rng.uniform(0.05, 0.3)) * (1.0 if rng.random() < 0.5 else -1.0)
        if rng.random() < 0.5:  # stripes over a blob: cloth
            ang = rng.uniform(0.0, math.pi)
            period = rng.uniform(4.0, 14.0) * lin
            width = rng.uniform(0.8, 2.5) * lin
            phase = (xx * math.cos(ang) + yy * math.sin(ang) + _smooth_field(h, w, rng, 40.0) * rng.uniform(0.0, 3.0)) % period
            line = np.clip(width / 2 + 0.5 - np.abs(phase - period / 2), 0.0, 1.0)
            cy, cx = rng.uniform(0, h), rng.uniform(0, w)
            r = rng.uniform(0.15, 0.45) * max(h, w)
            region = np.clip((r - np.hypot(yy - cy, xx - cx) + 8.0 * _smooth_field(h, w, rng, 16.0)) / 6.0, 0.0, 1.0)
            field = line * region
        else:  # long straight edges
            field = np.zeros((h, w), np.float32)
            ang = rng.uniform(0.0, math.pi) if rng.random() < 0.4 else rng.choice([0.0, math.pi / 2]) + rng.normal(0.0, 0.03)
            for _ in range(int(rng.integers(1, 4))):
                d = (xx - rng.uniform(0, w)) * math.sin(ang) - (yy - rng.uniform(0, h)) * math.cos(ang)
                field = np.maximum(field, np.clip(rng.uniform(0.8, 3.0) * lin / 2 + 0.5 - np.abs(d), 0.0, 1.0))
        out = out + (tone * field)[:, :, None]
    return _done(np.clip(out, 0.0, 1.0), shape)


def _crease(img: FloatArray, rng: np.random.Generator, lin: float) -> tuple[FloatArray, FloatArray]:
    """A fold: a light broken line with a shaded band on one side."""
    h, w = img.shape[:2]
    m = deg.crease_mask(h, w, rng, 1, (0.8 * lin, max(2.5 * lin, 1.0)))
    dy, dx = rng.normal(0.0, 1.0, 2)
    norm = max(math.hypot(dy, dx), 1e-6)
    off = rng.uniform(1.0, 2.5) * lin
    sy, sx = int(round(dy / norm * off)), int(round(dx / norm * off))
    shade = np.roll(deg.gaussian_blur(m, 1.2 * lin), (sy, sx), axis=(0, 1))
    shade = np.clip(shade * 1.5 - m, 0.0, 1.0)
    dark = rng.uniform(0.15, 0.4)
    out = img * (1.0 - dark * shade[:, :, None])
    out, _ = paint_damage(out, m, rng, str(rng.choice(["white", "cream"])), rng.uniform(0.5, 0.95))
    return out, visible_change(img, out)


# ---------------------------------------------------------------------------------------------------------
# the recipe


def damage_print(
    img: npt.ArrayLike, rng: np.random.Generator, strength: float = 1.0, scale: float = 1.0,
    kinds: tuple[str, ...] | None = None, scan: bool = True, with_truth: bool = False,
) -> tuple[FloatArray, FloatArray] | tuple[FloatArray, FloatArray, FloatArray]:
    """A clean photo made into a damaged, aged, scanned print.

    ``scale`` is the size of the damage in pixels relative to a ~400 px print (crops of larger photos see
    wider cracks); ``strength`` (0–2) scales how much of each kind. ``kinds`` picks among
    PRINT_DAMAGE_KINDS (default: a random mix, at least one). With ``scan`` the result is blurred a little,
    grained, noised and JPEG-compressed as a scan would be; the mask is blurred the same way.
    Returns (damaged image, soft damage mask including rims), and with ``with_truth`` also the same print
    aged and scanned without the damage (same fading, grain and noise): what a perfect repair would give.
    """
    a, shape = _prep(img)
    h, w, c = a.shape
    s = float(np.clip(strength, 0.0, 2.0))
    lin = float(scale)
    area = h * w / 400.0**2
    out = a
    if rng.random() < 0.7:
        out = deg.fade(out, rng, float(rng.uniform(0.0, 0.6)))
    if rng.random() < 0.6:
        out = deg.color_cast(out, rng, float(rng.uniform(0.0, 0.9)))
    if rng.random() < 0.12:
        out = print_border(out, rng)
    if rng.random() < 0.2:
        out = deg.apply_damage(out, deg.stain_mask(h, w, rng, 1), rng, "stain")
    if rng.random() < 0.3:
        out = photo_lines(out, rng, lin)
    toned = out
    if kinds is None:
        p = {"crack_web": 0.35, "craquelure": 0.15, "crease": 0.25, "tear": 0.08, "flaking": 0.4,
             "foxing": 0.15, "dust": 0.6, "lint": 0.25, "film_scratches": 0.15}
        kinds = tuple(k for k, q in p.items() if rng.random() < q * max(s, 0.3)) or (str(rng.choice(list(p))),)
    elif any(k not in PRINT_DAMAGE_KINDS for k in kinds):
        raise ValueError(f"unknown print damage in {kinds!r}")
    masks = []
    light = lambda: str(rng.choice(["white", "cream", "yellowed", "white"]))  # noqa: E731

    def lay(m: FloatArray, colour: str, opacity: float, rim: float = 0.0, paper: float = 0.0) -> None:
        nonlocal out
        out, vis = paint_damage(out, m, rng, colour, opacity, rim, max(0.8 * lin, 0.6), paper)
        masks.append(vis)

    for kind in kinds:
        if kind == "crack_web":
            m = crack_web_mask(h, w, rng, max(1, int(rng.poisson(1.2 * s))), (0.8 * lin, max(2.5 * lin, 1.2)))
            dark = rng.random() < 0.2
            lay(m, "dark" if dark else light(), rng.uniform(0.55, 1.0), rng.uniform(-0.3, 0.35) if rng.random() < 0.6 else 0.0)
        elif kind == "craquelure":
            m = craquelure_mask(h, w, rng, (8.0 * lin, 35.0 * lin), (0.6 * lin, max(1.8 * lin, 1.0)))
            lay(m, "dark" if rng.random() < 0.4 else light(), rng.uniform(0.4, 0.9), rng.uniform(-0.15, 0.2))
        elif kind == "crease":
            out, vis = _crease(out, rng, lin)
            masks.append(vis)
        elif kind == "tear":
            m = deg.tear_mask(h, w, rng, 1, 0.25)
            fibre = np.clip(rim_of(m, rng.uniform(1.0, 2.5) * lin) * 2.0, 0.0, 1.0)
            fibre *= _smooth_field(h, w, rng, 1.5) > -0.3
            lay(np.maximum(m, fibre), "white", 1.0)
            backing = rng.random() < 0.35
            lay(m, "dark" if backing else str(rng.choice(["white", "cream"])), 1.0, paper=0.0 if backing else rng.uniform(0.0, 0.12))
        elif kind == "flaking":
            if rng.random() < 0.4:  # many small flakes
                m = flaking_mask(h, w, rng, max(1, int(rng.poisson(4.0 * s * area))), (2.0 * lin, 12.0 * lin))
                lay(m, light() if rng.random() < 0.85 else "dark", rng.uniform(0.75, 1.0), rng.uniform(0.0, 0.3),
                    rng.uniform(0.0, 0.08))
            else:  # a few large losses: bare, fibrous paper showing in ragged patches tens of pixels across,
                # sometimes only half lifted (a paler, mottled patch rather than white)
                m = flaking_mask(h, w, rng, max(1, int(rng.poisson(1.2 * s * area))), (15.0 * lin, 80.0 * lin))
                lay(m, light() if rng.random() < 0.9 else "dark",
                    rng.uniform(0.8, 1.0) if rng.random() < 0.7 else rng.uniform(0.4, 0.8), rng.uniform(0.0, 0.3),
                    rng.uniform(0.03, 0.16))
        elif kind == "foxing":
            m = foxing_mask(h, w, rng, max(1, int(rng.poisson(12.0 * s * area))), (1.0 * lin, 6.0 * lin))
            lay(m, str(rng.choice(["yellowed", "dark"])), rng.uniform(0.35, 0.8))
        elif kind == "dust":
            for colour, n in (("white", 30.0), ("dark", 15.0)):
                m = deg.dust_mask(h, w, rng, int(rng.poisson(n * s * area)), (0.8 * lin, 4.0 * lin))
                lay(m, colour, rng.uniform(0.6, 1.0))
        elif kind == "lint":
            m = lint_mask(h, w, rng, max(1, int(rng.poisson(2.0 * s * area))), (0.6 * lin, 1.6 * lin))
            lay(m, "dark" if rng.random() < 0.6 else "white", rng.uniform(0.5, 0.95))
        elif kind == "film_scratches":
            m = deg.scratch_mask(h, w, rng, max(1, int(rng.poisson(2.0 * s))), (0.8 * lin, 3.0 * lin), 1.0)
            lay(m, "white" if rng.random() < 0.6 else "dark", rng.uniform(0.4, 0.9))
        else:
            raise ValueError(f"unknown print damage {kind!r}")
    mask = np.maximum.reduce(masks) if masks else np.zeros((h, w), np.float32)
    if scan:
        sigma = float(rng.uniform(0.2, 0.9))
        mask = np.maximum(mask, deg.gaussian_blur(mask, sigma))
        grain = float(rng.uniform(0.0, 0.045)) if rng.random() < 0.8 else float(rng.uniform(0.045, 0.08))
        settings = (sigma, grain, float(rng.uniform(0.6, 1.5)),
                    float(rng.uniform(0.002, 0.01)), int(rng.integers(40, 96)) if rng.random() < 0.5 else 0)
        seed = int(rng.integers(2**31))
        out = _scan(out, settings, seed)
        toned = _scan(toned, settings, seed) if with_truth else toned
    out = _done(np.clip(out, 0.0, 1.0), shape)
    mask = np.clip(mask, 0.0, 1.0).astype(np.float32)
    if with_truth:
        return out, mask, _done(np.clip(toned, 0.0, 1.0), shape)
    return out, mask


def _scan(img: FloatArray, settings: tuple, seed: int) -> FloatArray:
    """Scanner blur, film grain, sensor noise and (quality > 0) JPEG, the same for the same seed."""
    sigma, grain, grain_size, noise, quality = settings
    rng = np.random.default_rng(seed)
    out = deg.gaussian_blur(img, sigma)
    out = deg.add_film_grain(out, rng, grain, grain_size)
    out = deg.add_gaussian_noise(out, noise, rng, clip=True)
    return deg.jpeg_compress(out, quality=quality) if quality else out
