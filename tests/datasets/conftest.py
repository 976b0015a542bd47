"""Fixtures of the dataset registry tests: a registry in a fresh data dir, and zip builders
that control every field an attacker controls (names, attributes, sizes)."""

from __future__ import annotations

import io
import stat
import zipfile
from pathlib import Path

import numpy as np
import pytest


@pytest.fixture
def settings(tmp_path):
    from tutor.settings import Settings

    return Settings(data_dir=tmp_path / "data")


@pytest.fixture
def service(settings):
    from tutor.datasets.service import DatasetService

    return DatasetService(settings)


def png(arr) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.asarray(arr, dtype=np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def rgb(h: int = 32, w: int = 32, seed: int = 0) -> bytes:
    return png(np.random.default_rng(seed).integers(0, 255, (h, w, 3)))


def write_zip(path: Path, entries: dict[str, bytes | str], compression=zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", compression) as z:
        for name, data in entries.items():
            z.writestr(name, data)
    return path


def add_raw(path: Path, name: str, data: bytes, mode: int | None = None, create_system: int = 3) -> None:
    """Append an entry whose name and unix mode bits are exactly as given (no normalisation)."""
    with zipfile.ZipFile(path, "a") as z:
        info = zipfile.ZipInfo(name)
        info.create_system = create_system
        if mode is not None:
            info.external_attr = mode << 16
        z.writestr(info, data)


def imagefolder_entries(classes=("cat", "dog"), n: int = 6, size: int = 32) -> dict[str, bytes]:
    return {f"{c}/{i}.png": rgb(size, size, seed=k * 100 + i) for k, c in enumerate(classes) for i in range(n)}


@pytest.fixture
def zips(tmp_path):
    """Builders: zips.path('x.zip'), zips.write(name, entries)."""
    class Z:
        def path(self, name: str) -> Path:
            return tmp_path / name

        def write(self, name: str, entries: dict, **kw) -> Path:
            return write_zip(tmp_path / name, entries, **kw)

    return Z()


__all__ = ["png", "rgb", "write_zip", "add_raw", "imagefolder_entries", "stat"]
