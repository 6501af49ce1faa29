"""Plan a batch over a folder: which files to process and where each result goes (numpy/Pillow free).

:func:`plan_batch` scans the input folder (optionally recursive; hidden files and folders and
the output folder itself are left out), mirrors sub-folders into the output folder, maps each
file to its output format and applies the policy for outputs that already exist.  The plan
never maps two inputs to one output and never writes over an input: when the output folder is
the input folder, results get a name suffix (``photo-restored.png``).  Re-running a plan with
the "skip" policy finds only what is still missing, so a cancelled or crashed batch resumes.
"""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from restorer_gui.core.errors import RestorerError
from restorer_gui.core.pathtext import PathTextError, path_from_text, shown
from restorer_gui.core.pathtext import exists as _exists
from restorer_gui.core.pathtext import is_dir as _is_dir

__all__ = [
    "DEFAULT_PATTERNS",
    "FORMATS",
    "IN_PLACE_SUFFIX",
    "POLICIES",
    "BatchItem",
    "BatchOptions",
    "BatchPlan",
    "BatchPlanError",
    "BatchProgress",
    "BatchSummary",
    "FileOutcome",
    "default_output_dir",
    "folder_from_text",
    "format_duration",
    "parse_patterns",
    "plan_batch",
]

FORMATS = ("same", "png", "jpg", "tiff")
POLICIES = ("skip", "rename", "overwrite")
DEFAULT_PATTERNS = "*.jpg;*.jpeg;*.png;*.tif;*.tiff;*.bmp;*.webp"
IN_PLACE_SUFFIX = "-restored"

# Output format (as save_image names it) and suffix for each input suffix with format "same".
_SAME = {
    ".png": ("PNG", None),
    ".jpg": ("JPEG", None),
    ".jpeg": ("JPEG", None),
    ".tif": ("TIFF", None),
    ".tiff": ("TIFF", None),
}
_CHOSEN = {"png": ("PNG", ".png"), "jpg": ("JPEG", ".jpg"), "tiff": ("TIFF", ".tif")}
_TEMP_RE = re.compile(r"^\.(?P<name>.+)\.[0-9a-f]{8}\.tmp$")  # imageio's atomic-write temporaries


class BatchPlanError(RestorerError, ValueError):
    """The batch cannot start (a usage error: missing input folder, bad option); one line."""


@dataclass(frozen=True)
class BatchOptions:
    """What to process and where to put it."""

    input_dir: Path
    output_dir: Path
    recursive: bool = False
    patterns: str = DEFAULT_PATTERNS  # ";"-separated, case-insensitive ("*.jpg;*.tif")
    fmt: str = "same"  # same | png | jpg | tiff
    on_existing: str = "skip"  # skip | rename | overwrite


@dataclass(frozen=True)
class BatchItem:
    """One file to process: *source* is read, the result is written to *target* as *fmt*."""

    source: Path
    target: Path
    fmt: str  # "PNG" | "JPEG" | "TIFF"
    relative: Path  # source relative to the input folder (for display)


@dataclass
class BatchPlan:
    """The files to process in order, and the inputs left out with the reason why."""

    options: BatchOptions
    items: list[BatchItem] = field(default_factory=list)
    skipped: list[tuple[Path, str]] = field(default_factory=list)
    stale_temps: list[Path] = field(default_factory=list)  # left by a crashed run: safe to delete

    @property
    def in_place(self) -> bool:
        return _same_dir(self.options.input_dir, self.options.output_dir)


def folder_from_text(text: str | os.PathLike[str], what: str = "folder") -> Path:
    """The absolute folder path *text* names (``~`` expanded); raises :class:`BatchPlanError` with a
    one-line reason for text that cannot name a folder (empty, a NUL byte, ``~unknown-user``…)."""
    try:
        return path_from_text(os.fspath(text) if not isinstance(text, bytes) else os.fsdecode(text))
    except PathTextError as exc:
        raise BatchPlanError(f"{what} “{shown(text)}”: {exc}") from None


def default_output_dir(input_dir: str | os.PathLike[str]) -> Path:
    """The sibling folder ``<name>-restored`` next to *input_dir* (``restored`` inside a root folder,
    which has no sibling); raises :class:`BatchPlanError` when *input_dir* cannot name a folder."""
    p = folder_from_text(input_dir, "input folder")
    if not p.name:
        return p / IN_PLACE_SUFFIX.lstrip("-")
    return p.with_name(p.name + IN_PLACE_SUFFIX)


def parse_patterns(text: str) -> list[str]:
    """``"*.jpg; *.TIF"`` → ``["*.jpg", "*.tif"]`` (also split on commas and spaces); empty → all images."""
    parts = [p.strip().lower() for p in re.split(r"[;,\s]+", text or "") if p.strip()]
    return parts or parse_patterns(DEFAULT_PATTERNS)


def plan_batch(options: BatchOptions) -> BatchPlan:
    """Scan the input folder and decide every output path (raises :class:`BatchPlanError`)."""
    if options.fmt not in FORMATS:
        raise BatchPlanError(f"unknown output format {options.fmt!r} (use {', '.join(FORMATS)})")
    if options.on_existing not in POLICIES:
        raise BatchPlanError(f"unknown policy {options.on_existing!r} (use {', '.join(POLICIES)})")
    src_dir = folder_from_text(options.input_dir, "input folder")
    out_dir = folder_from_text(options.output_dir, "output folder")
    if not _exists(src_dir):
        raise BatchPlanError(f"{src_dir}: the input folder does not exist")
    if not _is_dir(src_dir):
        raise BatchPlanError(f"{src_dir}: the input is not a folder")
    if _exists(out_dir) and not _is_dir(out_dir):
        raise BatchPlanError(f"{out_dir}: the output exists and is not a folder")
    opts = BatchOptions(src_dir, out_dir, options.recursive, options.patterns, options.fmt, options.on_existing)
    plan = BatchPlan(opts)
    in_place = plan.in_place
    exclude = None if in_place else out_dir
    sources = sorted(_scan(src_dir, parse_patterns(options.patterns), options.recursive, exclude),
                     key=lambda p: str(p.relative_to(src_dir)))
    source_keys = {_key(p) for p in sources}
    wanted: list[tuple[Path, Path, str]] = []
    for src in sources:
        if in_place and _is_earlier_output(src):
            plan.skipped.append((src, "looks like the output of an earlier batch"))
            continue
        fmt, suffix = _format_for(src, options.fmt)
        rel = src.relative_to(src_dir)
        target = (out_dir / rel).with_suffix(suffix or src.suffix)
        if in_place or _key(target) in source_keys:  # never write over an input
            target = target.with_name(target.stem + IN_PLACE_SUFFIX + target.suffix)
        wanted.append((src, target, fmt))
    _assign(plan, _disambiguate(wanted), source_keys)
    plan.stale_temps = _stale_temps(plan)
    return plan


# --------------------------------------------------------------------------- scanning


def _scan(root: Path, patterns: list[str], recursive: bool, exclude: Path | None) -> Iterator[Path]:
    """Matching, visible regular files under *root* (sub-folders when *recursive*), skipping *exclude*."""
    try:
        entries = list(os.scandir(root))
    except OSError as exc:
        if root == exclude:
            return
        raise BatchPlanError(f"{root}: cannot read the folder ({exc.strerror or exc})") from None
    for entry in entries:
        if entry.name.startswith("."):
            continue
        path = Path(entry.path)
        try:
            if entry.is_dir(follow_symlinks=False):  # linked folders are not followed (no loops)
                if recursive and not (exclude is not None and _same_dir(path, exclude)):
                    yield from _scan(path, patterns, recursive, exclude)
            elif entry.is_file() and _matches(entry.name, patterns):
                yield path
        except OSError:
            continue  # vanished or unreadable entry: not part of the batch


def _matches(name: str, patterns: Iterable[str]) -> bool:
    lower = name.lower()
    return any(fnmatch.fnmatchcase(lower, p) for p in patterns)


def _same_dir(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve() or (a.exists() and b.exists() and a.samefile(b))
    except (OSError, ValueError):
        return False


def _key(p: Path) -> str:
    """Comparison key for output names: case-insensitive, so plans are safe on any file system."""
    return os.path.normcase(os.path.abspath(p)).lower()


_EARLIER = re.compile(re.escape(IN_PLACE_SUFFIX) + r"( \(\d+\))?$")


def _is_earlier_output(p: Path) -> bool:
    return bool(_EARLIER.search(p.stem))


# --------------------------------------------------------------------------- naming


def _format_for(src: Path, fmt: str) -> tuple[str, str | None]:
    """Output format and suffix (None: keep the source's) for *src*."""
    if fmt == "same":
        return _SAME.get(src.suffix.lower(), ("PNG", ".png"))
    return _CHOSEN[fmt]


def _disambiguate(wanted: list[tuple[Path, Path, str]]) -> list[tuple[Path, Path, str]]:
    """When several inputs want one output (``a.png`` and ``a.jpg`` → PNG), the input with the
    output's own suffix (else the first) keeps the name; the others get theirs: ``a_jpg.png``."""
    groups: dict[str, list[int]] = {}
    for i, (_, target, _) in enumerate(wanted):
        groups.setdefault(_key(target), []).append(i)
    taken = set(groups)
    result = list(wanted)
    for indices in groups.values():
        if len(indices) < 2:
            continue
        target_suffix = wanted[indices[0]][1].suffix.lower()
        keeper = next((i for i in indices if wanted[i][0].suffix.lower() == target_suffix), indices[0])
        for i in indices:
            if i == keeper:
                continue
            src, target, fmt = wanted[i]
            tag = src.suffix.lstrip(".").lower() or "file"
            base = target.with_name(f"{target.stem}_{tag}{target.suffix}")
            new, n = base, 1
            while _key(new) in taken:
                n += 1
                new = base.with_name(f"{base.stem}_{n}{base.suffix}")
            taken.add(_key(new))
            result[i] = (src, new, fmt)
    return result


def _assign(plan: BatchPlan, wanted: list[tuple[Path, Path, str]], source_keys: set[str]) -> None:
    """Apply the existing-output policy and fill ``plan.items`` / ``plan.skipped``."""
    policy = plan.options.on_existing
    claimed = {_key(t) for _, t, _ in wanted}
    for src, target, fmt in wanted:
        rel = src.relative_to(plan.options.input_dir)
        if target.is_dir():
            plan.skipped.append((src, f"a folder named {target.name} is in the way of the output"))
            continue
        if os.path.lexists(target):
            if policy == "skip":
                plan.skipped.append((src, "the output already exists"))
                continue
            if policy == "rename":
                target = _free_name(target, claimed | source_keys)
                claimed.add(_key(target))
        plan.items.append(BatchItem(src, target, fmt, rel))


def _free_name(target: Path, claimed: set[str]) -> Path:
    """``name (1).ext``, ``name (2).ext``, … : the first that neither exists nor is planned."""
    n = 1
    while True:
        candidate = target.with_name(f"{target.stem} ({n}){target.suffix}")
        if _key(candidate) not in claimed and not os.path.lexists(candidate):
            return candidate
        n += 1


def _stale_temps(plan: BatchPlan) -> list[Path]:
    """Temporary files of interrupted atomic writes to this plan's outputs (a crash leaves them)."""
    names: dict[Path, set[str]] = {}
    for item in plan.items:
        names.setdefault(item.target.parent, set()).add(item.target.name)
    found: list[Path] = []
    for folder, wanted in names.items():
        try:
            entries = os.listdir(folder)
        except OSError:
            continue
        for name in entries:
            m = _TEMP_RE.match(name)
            if m and m.group("name") in wanted:
                found.append(folder / name)
    return sorted(found)


# --------------------------------------------------------------------------- outcomes


@dataclass(frozen=True)
class FileOutcome:
    """What happened to one planned file: "done" (written) or "failed" (with the reason)."""

    index: int
    source: Path
    target: Path
    status: str
    reason: str = ""
    megapixels: float = 0.0
    seconds: float = 0.0  # time in the model
    sigma: float | None = None
    fatal: bool = False  # failed writing to a full, read-only or forbidden disk: no other file would fare better


@dataclass(frozen=True)
class BatchProgress:
    """A snapshot of a running batch, with the figures a progress display needs."""

    finished: int  # files written or failed
    total: int  # files planned
    current: float  # fraction of the file now in the model (0 when none)
    megapixels: float  # megapixels written so far
    elapsed: float  # seconds since the batch started

    @property
    def fraction(self) -> float:
        return 1.0 if not self.total else min(1.0, (self.finished + self.current) / self.total)

    @property
    def eta(self) -> float | None:
        """Seconds left, from the pace so far (None until there is one)."""
        done = self.finished + self.current
        if done <= 0.05 or self.elapsed <= 0:
            return None
        return max(0.0, self.elapsed / done * (self.total - done))

    @property
    def megapixels_per_second(self) -> float:
        return self.megapixels / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def files_per_minute(self) -> float:
        return 60.0 * self.finished / self.elapsed if self.elapsed > 0 else 0.0


@dataclass
class BatchSummary:
    """The end of a batch: what was written, skipped and failed, and why it ended."""

    planned: int
    done: list[FileOutcome] = field(default_factory=list)
    skipped: list[tuple[Path, str]] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)
    cancelled: bool = False
    fatal: str | None = None  # why the batch stopped early (disk full, read-only output)
    elapsed: float = 0.0
    log_path: Path | None = None

    @property
    def not_processed(self) -> int:
        return max(0, self.planned - len(self.done) - len(self.failed))

    @property
    def megapixels(self) -> float:
        return sum(o.megapixels for o in self.done)

    @property
    def ok(self) -> bool:
        return not (self.failed or self.fatal or self.cancelled)

    def headline(self) -> str:
        """One sentence: how it ended and the counts."""
        if self.fatal:
            state = "Stopped"
        elif self.cancelled:
            state = "Cancelled"
        else:
            state = "Finished"
        parts = [f"{len(self.done)} written"]
        if self.skipped:
            parts.append(f"{len(self.skipped)} skipped")
        if self.failed:
            parts.append(f"{len(self.failed)} failed")
        if self.not_processed:
            parts.append(f"{self.not_processed} not processed")
        rate = f", {self.megapixels / self.elapsed:.2f} MP/s" if self.elapsed > 0 and self.done else ""
        return f"{state}: {', '.join(parts)} in {format_duration(self.elapsed)}{rate}."

    def lines(self) -> list[str]:
        """The headline, the fatal reason, each failure with its reason, and the log file."""
        out = [self.headline()]
        if self.fatal:
            out.append(f"The batch was stopped: {self.fatal}")
        out.extend(f"failed: {path}: {reason}" for path, reason in self.failed)
        if self.log_path is not None:
            out.append(f"Log: {self.log_path}")
        return out


def format_duration(seconds: float) -> str:
    """``42 s``, ``3 min 05 s``, ``2 h 07 min``."""
    s = round(max(0.0, seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"
