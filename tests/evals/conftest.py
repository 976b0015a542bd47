import json
import os
from pathlib import Path

import pytest

from tests.conftest import ROOT, SHARED_COURSE

EVALS = Path(__file__).resolve().parent


def load_jsonl(pattern: str) -> list[dict]:
    rows = []
    for f in sorted(EVALS.glob(pattern)):
        rows += [json.loads(line) for line in f.read_text(encoding="utf-8").splitlines() if line.strip()]
    return rows


@pytest.fixture(scope="session")
def eval_index(tmp_path_factory):
    """The course corpus plus the five raw syllabi, built once per session with the
    offline default embedder. Its vectors come from the session's embedding cache (seeded
    with the corpus's by `make test`'s index build), so only the syllabi are encoded here."""
    from index.builder import build_index
    from index.search import HybridIndex

    d = tmp_path_factory.mktemp("eval-index")
    paths = [ROOT / "corpus"] + ([SHARED_COURSE] if SHARED_COURSE.exists() else [])
    build_index(paths, d / "index", embedder_spec="usem3", cache_path=Path(os.environ["TUTOR_EMBED_CACHE"]),
                progress=False)
    return HybridIndex.load(d / "index")
