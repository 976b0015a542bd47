"""Fixtures for the LLM backends: the real packaged model files, small real part packages
for the assembly tests."""

from __future__ import annotations

import base64
import hashlib
import importlib
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT


def qwen_gguf() -> Path | None:
    """The assembled Qwen GGUF `make test` put in ./data/models."""
    p = ROOT / "data" / "models" / "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
    return p if p.is_file() else None


@pytest.fixture(scope="session")
def smollm2_path() -> Path:
    from tutor.llm.models import SMOLLM2_135M, packaged_file

    return packaged_file(SMOLLM2_135M)


@pytest.fixture
def part_packages(tmp_path, monkeypatch):
    """make(n, sizes) -> PackagedModel over n real installed-looking packages
    (`<pkg>/data/partNN.bin` + a dist-info RECORD with each part's sha256), importable from
    sys.path, so assembly runs on real files without touching the 1.1 GB model."""
    from tutor.llm.models import PackagedModel

    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))

    def make(n: int = 12, size: int = 1000, prefix: str = "fakemodel_part") -> tuple[PackagedModel, bytes]:
        whole = b""
        names = []
        for i in range(1, n + 1):
            pkg = f"{prefix}{i}"
            data = bytes([i]) * size + f"part{i}".encode()
            d = site / pkg / "data"
            d.mkdir(parents=True)
            (site / pkg / "__init__.py").write_text("")
            (d / f"part{i:02d}.bin").write_bytes(data)
            info = site / f"{pkg}-0.2.0.dist-info"
            info.mkdir()
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            (info / "RECORD").write_text(f"{pkg}/__init__.py,,\n{pkg}/data/part{i:02d}.bin,sha256={digest},{len(data)}\n")
            whole += data
            names.append(pkg)
        for name in list(sys.modules):
            if name.startswith(prefix):
                del sys.modules[name]
        importlib.invalidate_caches()
        pm = PackagedModel(key="fake-model", filename="fake.gguf", sha256=hashlib.sha256(whole).hexdigest(),
                           size=len(whole), parts=tuple(names))
        return pm, whole

    make.site = site
    return make
