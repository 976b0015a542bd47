"""Validation of an uploaded dataset zip, in two stages.

1. `inspect_zip` (here), before anything is written: entry count, total uncompressed size
   and compression ratios (zip bombs), and every name (no absolute paths, drive letters,
   `..`, symlinks, device files, encrypted entries, duplicates after normalisation; allowed
   extensions only). A single folder that wraps everything is stripped. `extract` then
   writes the members, counting bytes.
2. `validate_layout` (tutor/datasets/layouts.py), on the extracted copy: the layout of one
   format, checked file by file.

Every problem found is collected and reported together (the first few in the message), so
a course assistant fixes a zip in one go. A rejected upload raises DatasetRejected; the
service removes whatever was extracted.
"""

from __future__ import annotations

import re
import stat
import unicodedata
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from tutor.datasets.images import IMAGE_EXTENSIONS

TEXT_EXTENSIONS = (".csv", ".tsv", ".jsonl")
ANNOTATION_EXTENSIONS = (".txt", ".json", ".yaml", ".yml")
DOC_EXTENSIONS = (".md",)
ALLOWED_EXTENSIONS = IMAGE_EXTENSIONS + TEXT_EXTENSIONS + ANNOTATION_EXTENSIONS + DOC_EXTENSIONS
LOSSLESS_MASKS = (".png", ".bmp", ".gif")
JUNK_DIRS = ("__MACOSX", ".ipynb_checkpoints")
JUNK_FILES = ("Thumbs.db", "desktop.ini")
SPLITS = {"train": "train", "val": "val", "valid": "val", "validation": "val", "dev": "val", "test": "test"}
LAYOUT_DIRS = {"images", "labels", "masks", "annotations", *SPLITS}
SHOWN_PROBLEMS = 8
MAX_PROBLEMS = 200
SMALL_ENTRY = 1_000_000  # a small file may compress very well (a blank mask); only big ones count
MAX_ANNOTATION_FILE = 256_000_000
MAX_LABEL_LINES = 2000
MAX_LABEL_CHARS = 100


@dataclass(frozen=True)
class Limits:
    max_unpacked_bytes: int = 2_000_000_000
    max_files: int = 50_000
    max_ratio: float = 100.0
    max_image_side: int = 4096
    max_image_pixels: int = 16_777_216
    min_per_class: int = 5
    max_text_rows: int = 200_000
    max_text_chars: int = 20_000

    @classmethod
    def from_settings(cls, st) -> "Limits":
        return cls(max_unpacked_bytes=st.max_dataset_unpacked_bytes, max_files=st.max_dataset_files,
                   max_image_side=st.max_dataset_image_side, max_text_rows=st.max_dataset_text_rows)


class DatasetRejected(ValueError):
    """An upload that is not a valid dataset; `problems` lists everything found."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        shown = "; ".join(self.problems[:SHOWN_PROBLEMS])
        more = len(self.problems) - SHOWN_PROBLEMS
        super().__init__(f"dataset rejected: {shown}" + (f" (and {more} more problems)" if more > 0 else ""))


class Problems(list):
    def add(self, msg: str) -> None:
        if len(self) < MAX_PROBLEMS:
            self.append(msg)

    def raise_if_any(self) -> None:
        if self:
            raise DatasetRejected(self)


def _few(items, n: int = 3) -> str:
    items = list(items)
    return ", ".join(items[:n]) + (f" (+{len(items) - n} more)" if len(items) > n else "")


def _ext(name: str) -> str:
    return PurePosixPath(name).suffix.lower()


def is_image(name: str) -> bool:
    return _ext(name) in IMAGE_EXTENSIONS


# --------------------------------------------------------------------------------------------
# Stage 1: the zip itself, before extraction
# --------------------------------------------------------------------------------------------

@dataclass
class Member:
    info: zipfile.ZipInfo
    name: str  # normalised relative POSIX path (after stripping a wrapping folder)


def _is_junk(parts: list[str]) -> bool:
    return (any(p in JUNK_DIRS for p in parts[:-1]) or parts[-1] in JUNK_FILES
            or any(p.startswith(".") for p in parts))  # hidden files: .DS_Store, ._resource forks, .git/


def inspect_zip(path: str | Path, limits: Limits, allowed: tuple[str, ...] = ALLOWED_EXTENSIONS) -> list[Member]:
    """Everything that can be checked from the central directory; nothing is extracted.
    `allowed`: the file types the zip may hold (course materials use their own list)."""
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError):
        raise DatasetRejected(["the file is not a zip archive"]) from None
    with zf:
        infos = zf.infolist()
    if len(infos) > limits.max_files:
        raise DatasetRejected([f"the zip has {len(infos):,} entries, more than the limit of {limits.max_files:,}"])
    total = sum(i.file_size for i in infos)
    packed = sum(i.compress_size for i in infos)
    if total > limits.max_unpacked_bytes:
        raise DatasetRejected([f"the zip unpacks to {total:,} bytes, more than the limit of "
                               f"{limits.max_unpacked_bytes:,}"])
    if total > 10 * SMALL_ENTRY and total > limits.max_ratio * max(packed, 1):
        raise DatasetRejected([f"the zip unpacks to {total / max(packed, 1):.0f} times its size "
                               f"(limit {limits.max_ratio:.0f}x): refused as a zip bomb"])
    problems = Problems()
    members: list[Member] = []
    seen: dict[str, str] = {}
    for info in infos:
        raw = info.filename
        shown = raw[:120].encode("unicode_escape").decode()
        if "\x00" in raw:
            problems.add(f"'{shown}': NUL byte in the name")
            continue
        unified = raw.replace("\\", "/")
        if unified.startswith("/"):
            problems.add(f"'{shown}': absolute path")
            continue
        if re.match(r"^[A-Za-z]:", unified):
            problems.add(f"'{shown}': drive letter in the path")
            continue
        parts = [p for p in unified.split("/") if p not in ("", ".")]
        if ".." in parts:
            problems.add(f"'{shown}': '..' in the path")
            continue
        mode = info.external_attr >> 16
        if mode and info.create_system == 3:  # unix attributes: a symlink or device is never data
            if stat.S_ISLNK(mode):
                problems.add(f"'{shown}': symbolic link")
                continue
            if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) or stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode):
                problems.add(f"'{shown}': device or special file")
                continue
        if info.flag_bits & 0x1:
            problems.add(f"'{shown}': encrypted entry")
            continue
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA):
            problems.add(f"'{shown}': unsupported compression method {info.compress_type}")
            continue
        if info.file_size > SMALL_ENTRY and info.file_size > limits.max_ratio * max(info.compress_size, 1):
            problems.add(f"'{shown}': compressed {info.file_size / max(info.compress_size, 1):.0f}x "
                         f"(limit {limits.max_ratio:.0f}x), refused as a zip bomb")
            continue
        if info.is_dir() or not parts or _is_junk(parts):
            continue
        name = unicodedata.normalize("NFC", "/".join(parts))
        if _ext(name) not in allowed:
            problems.add(f"'{shown}': file type not allowed (allowed: {' '.join(allowed)})")
            continue
        key = name.casefold()
        if key in seen:
            problems.add(f"'{shown}': duplicate of '{seen[key]}' after normalising the name")
            continue
        seen[key] = name
        members.append(Member(info, name))
    problems.raise_if_any()
    names = {m.name.casefold() for m in members}
    clash = [m.name for m in members if any("/".join(m.name.casefold().split("/")[:k]) in names
                                            for k in range(1, m.name.count("/") + 1))]
    if clash:
        raise DatasetRejected([f"'{c}': a file and a folder share a name" for c in clash])
    if not members:
        raise DatasetRejected(["the zip holds no data files"])
    return _strip_wrapping_folder(members)


def _strip_wrapping_folder(members: list[Member]) -> list[Member]:
    """'afhq/train/cat/1.jpg' -> 'train/cat/1.jpg' when every file lies in one folder that is
    not itself part of a layout (images/, train/...) and holds no images directly (a single
    class folder 'cat/1.jpg' stays what it is)."""
    while True:
        tops = {m.name.split("/", 1)[0] for m in members}
        if len(tops) != 1 or any("/" not in m.name for m in members):
            return members
        top = next(iter(tops))
        stripped = [m.name.split("/", 1)[1] for m in members]
        if top.lower() in LAYOUT_DIRS or any("/" not in n and is_image(n) for n in stripped):
            return members
        members = [Member(m.info, n) for m, n in zip(members, stripped)]


def extract(path: str | Path, members: list[Member], dest: Path, limits: Limits) -> None:
    """Write the members under dest, counting bytes as they are written (a lying size field
    cannot get past the limit); never overwrites or follows an existing file."""
    dest.mkdir(parents=True, exist_ok=True)
    root = dest.resolve()
    written = 0
    try:
        with zipfile.ZipFile(path) as zf:
            for m in members:
                target = dest / m.name
                if not target.resolve().is_relative_to(root):  # already excluded by the name checks
                    raise DatasetRejected([f"'{m.name}': outside the dataset folder"])
                target.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(m.info) as src, open(target, "xb") as out:
                    while chunk := src.read(1 << 20):
                        written += len(chunk)
                        if written > limits.max_unpacked_bytes:
                            raise DatasetRejected([f"the zip unpacks to more than {limits.max_unpacked_bytes:,} bytes"])
                        out.write(chunk)
    except (zipfile.BadZipFile, EOFError, zlib.error) as e:
        raise DatasetRejected([f"corrupt zip entry ({type(e).__name__})"]) from None
