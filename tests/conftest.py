"""Shared fixtures. Every test session gets its own data dir so tests never touch ./data."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED_COURSE = ROOT.parent / "shared" / "course"

# Must happen before tutor.settings is imported anywhere.
_SESSION_DATA = Path(tempfile.mkdtemp(prefix="tutor-test-data-"))
os.environ.setdefault("TUTOR_DATA_DIR", str(_SESSION_DATA))
# One embedding cache for every index the tests build (fixtures and server subprocesses),
# seeded from the one `make test` filled when it built the default index: the packaged
# encoder is deterministic, so a cached vector is the vector it would compute (~10-40
# chunks/s on 2 cores otherwise, for each of the several indexes over the same corpus).
EMBED_CACHE = _SESSION_DATA / "embed_cache.sqlite"
if (ROOT / "data" / "embed_cache.sqlite").exists():
    shutil.copyfile(ROOT / "data" / "embed_cache.sqlite", EMBED_CACHE)
os.environ.setdefault("TUTOR_EMBED_CACHE", str(EMBED_CACHE))
# The embedded LLM that `make test` assembled (`models ensure`) into ./data/models, not a new
# 1.1 GB copy in every session's data dir; it is still sha256-checked before each load.
os.environ.setdefault("TUTOR_MODELS_DIR", str(ROOT / "data" / "models"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def pytest_collection_modifyitems(config, items):
    try:
        import torch

        has_cuda = torch.cuda.is_available()
    except Exception:
        has_cuda = False
    skip_gpu = pytest.mark.skip(reason="needs a CUDA GPU")
    for item in items:
        if "gpu" in item.keywords and not has_cuda:
            item.add_marker(skip_gpu)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return Path(os.environ["TUTOR_DATA_DIR"])


@pytest.fixture(scope="session")
def photos(tmp_path_factory) -> dict[str, Path]:
    """Real photos (skimage samples: portrait, cat, espresso) and edge cases as files, once per session."""
    from tests.photos import write_photos

    return write_photos(tmp_path_factory.mktemp("photos"))


@pytest.fixture
def run_dir(tmp_path) -> Path:
    d = tmp_path / "run"
    d.mkdir()
    return d


@pytest.fixture(autouse=True)
def _tool_registry_restored():
    """Tools registered by a test (TUTOR_EXTRA_TOOLS: sleeper, curve) are removed after it,
    so that the registry other tests see is the project's own."""
    from tools.registry import TOOLS

    before = dict(TOOLS)
    yield
    for name in set(TOOLS) - set(before):
        TOOLS.pop(name, None)
