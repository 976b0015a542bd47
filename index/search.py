"""Hybrid search: BM25 and dense (FAISS) candidates fused by reciprocal rank fusion,
with an optional rerank hook (e.g. a sentence-transformers CrossEncoder online)."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Literal

import numpy as np

from index.bm25 import BM25, tokenize
from index.builder import read_manifest
from index.chunking import Chunk
from index.dense import DenseIndex


class IndexNotFound(FileNotFoundError):
    """No built index at the given directory."""


@dataclass
class Hit:
    text: str
    source: str
    section: str
    anchor: str
    score: float  # fused RRF score (or the reranker's), higher is better
    dense_score: float | None = None  # cosine similarity of the chunk to the query
    bm25_score: float | None = None
    title: str = ""
    headings: list[str] = field(default_factory=list)
    chunk_id: str = ""
    course: str = ""  # the course the passage belongs to ("курс 1 «…»"), "" for general material

    def to_json(self) -> dict:
        """The public JSON shape of a hit (CLI --json, API)."""
        return {"text": self.text, "source": self.source, "section": self.section, "anchor": self.anchor,
                "score": round(self.score, 6)}


Reranker = Callable[[str, list[Hit]], list[Hit]]


class CrossEncoderReranker:
    """Rerank with a sentence-transformers CrossEncoder (needs its weights: online, or a
    local path). No packaged cross-encoder exists offline, so this is opt-in."""

    def __init__(self, model_id: str) -> None:
        from sentence_transformers import CrossEncoder

        self.model = CrossEncoder(model_id)

    def __call__(self, query: str, hits: list[Hit]) -> list[Hit]:
        if not hits:
            return hits
        scores = self.model.predict([(query, f"{h.section}\n{h.text}") for h in hits])
        for h, s in zip(hits, scores):
            h.score = float(s)
        return sorted(hits, key=lambda h: -h.score)


class HybridIndex:
    def __init__(self, index_dir: Path, manifest: dict, chunks: list[Chunk], bm25: BM25, dense: DenseIndex,
                 embedder=None, rrf_k: int = 20, reranker: Reranker | None = None, dense_weight: float = 0.3,
                 heading_weight: float = 0.04) -> None:
        self.index_dir = index_dir
        self.manifest = manifest
        self.chunks = chunks
        self.bm25 = bm25
        self.dense = dense
        self.rrf_k = rrf_k
        self.dense_weight = dense_weight
        self.heading_weight = heading_weight
        self._terms_cache: dict[int, set[str]] = {}
        self.reranker = reranker
        self._embedder = embedder
        self._vectors = None
        self._lock = threading.Lock()
        self._normalizer = None
        self._courses = None
        self._usage: dict[int, bool] = {}
        self.priors = True  # query-type priors for the first hit (index.priors); off to measure without

    @classmethod
    def load(cls, index_dir: str | Path, embedder=None, rrf_k: int = 20, use_gpu: bool = True,
             reranker: Reranker | None = None, dense_weight: float = 0.3,
             heading_weight: float = 0.04) -> "HybridIndex":
        index_dir = Path(index_dir)
        manifest = read_manifest(index_dir)
        if manifest is None:
            raise IndexNotFound(f"no index at {index_dir}: run `python -m tutor index build` first")
        with open(index_dir / "chunks.jsonl", encoding="utf-8") as f:
            chunks = [Chunk(**json.loads(line)) for line in f if line.strip()]
        dense = DenseIndex.load(index_dir / "dense.faiss")
        if use_gpu:
            dense.to_gpu()
        if embedder is not None and embedder.name != manifest["embedder"]:
            raise ValueError(f"index was built with '{manifest['embedder']}', not '{embedder.name}'")
        return cls(index_dir, manifest, chunks, BM25.load(index_dir), dense, embedder, rrf_k, reranker, dense_weight,
                   heading_weight)

    @property
    def embedder(self):
        with self._lock:  # first query loads the model once, also under concurrent requests
            if self._embedder is None:
                from index.embeddings import make_embedder

                self._embedder = make_embedder(self.manifest["embedder"])
            return self._embedder

    @property
    def normalizer(self):
        """Student wording → the materials' words, over this index's vocabulary (index.wording)."""
        with self._lock:
            if self._normalizer is None:
                from index.wording import Normalizer, Vocabulary

                self._normalizer = Normalizer(Vocabulary([c.embed_text() for c in self.chunks],
                                                         [c.section for c in self.chunks]))
            return self._normalizer

    @property
    def courses(self):
        """Which course each chunk belongs to (index.courses)."""
        with self._lock:
            if self._courses is None:
                from index.courses import CourseCatalogue

                self._courses = CourseCatalogue(self.chunks)
            return self._courses

    def course_label(self, i: int, lang: str = "ru") -> str:
        courses = self.courses
        return courses.label(courses.course_number(i), lang)

    def __len__(self) -> int:
        return len(self.chunks)

    def embed_query(self, query: str) -> np.ndarray:
        """The query's vector (the answer step reuses it: tutor.agent.answer.encode_query_cached)."""
        from tutor.agent.answer import encode_query_cached

        return encode_query_cached(self.embedder, query)

    def search(self, query: str, k: int = 5, mode: Literal["hybrid", "dense", "bm25"] = "hybrid",
               candidates: int | None = None, source_prefix: str | None = None,
               query_vector: np.ndarray | None = None, normalize: bool = True) -> list[Hit]:
        """Top-k chunks for `query`. `source_prefix` keeps only chunks whose source starts
        with it (e.g. "corpus/course/homework"). `normalize` reads student wording (slang,
        typos, transliteration: index.wording) into the materials' words first."""
        query = (query or "").strip()
        if not query or not self.chunks:
            return []
        if normalize:
            query = self.normalizer.normalize(query).text or query
        n_cand = candidates or max(50, 4 * k)
        if source_prefix:
            n_cand = max(n_cand, 400)
        dense_rank: dict[int, tuple[int, float]] = {}
        bm25_rank: dict[int, tuple[int, float]] = {}
        qv = None
        if mode in ("hybrid", "dense"):
            qv = query_vector if query_vector is not None else self.embed_query(query)
            scores, ids = self.dense.search(qv, n_cand)
            r = 0
            for i, s in zip(ids[0], scores[0]):
                if i < 0 or (source_prefix and not self.chunks[i].source.startswith(source_prefix)):
                    continue
                dense_rank[int(i)] = (r, float(s))
                r += 1
        if mode in ("hybrid", "bm25"):
            r = 0
            for i, s in self.bm25.top(query, n_cand):
                if source_prefix and not self.chunks[i].source.startswith(source_prefix):
                    continue
                bm25_rank[i] = (r, s)
                r += 1
        # weighted reciprocal rank fusion: the packaged multilingual encoder is weaker than
        # BM25 with stemming on Russian course text (tests/evals), so its votes count less
        fused: dict[int, float] = {}
        for ranks, w in ((dense_rank, self.dense_weight), (bm25_rank, 1.0)):
            for i, (r, _) in ranks.items():
                fused[i] = fused.get(i, 0.0) + w / (self.rrf_k + r + 1)
        if self.heading_weight and mode == "hybrid":
            # a bonus for the share of the query's terms found in the chunk's heading path: a
            # section *about* the asked thing ("Свёрточные сети > Паддинг" for "паддинг в свёрточной
            # сети") beats one that only mentions it (seq2seq data preparation pads sequences too).
            # Tuned on tests/evals: MRR 0.725 -> 0.768 at 0.04, recall@5 unchanged.
            terms = set(tokenize(query))
            if terms:
                for i in sorted(fused, key=lambda i: -fused[i])[:30]:
                    fused[i] += self.heading_weight * len(terms & self._heading_terms(i)) / len(terms)
        if self.priors and mode == "hybrid":
            self._add_priors(query, fused)
        order = sorted(fused, key=lambda i: (-fused[i], i))
        hits = []
        for i in order[: (n_cand if self.reranker else k)]:
            c = self.chunks[i]
            ds = dense_rank.get(i, (None, None))[1]
            if ds is None and qv is not None:
                # outside the dense candidate list: compute its cosine for thresholding
                ds = float(self.dense_vector(i) @ qv)
            hits.append(Hit(text=c.text, source=c.source, section=c.section, anchor=c.anchor, score=fused[i],
                            dense_score=ds, bm25_score=bm25_rank.get(i, (None, None))[1], title=c.title,
                            headings=list(c.headings), chunk_id=c.id, course=self.course_label(i)))
        if self.reranker:
            hits = self.reranker(query, hits)[:k]
        return hits

    def hit_at(self, source: str, anchor: str) -> Hit | None:
        """The chunk of `source` at `anchor` as a Hit (no scores), or None: a lecture's twin section
        in the other language is found this way."""
        if not hasattr(self, "_by_anchor"):
            self._by_anchor = {(c.source, c.anchor): i for i, c in enumerate(self.chunks)}
        i = self._by_anchor.get((source, anchor))
        if i is None:
            return None
        c = self.chunks[i]
        return Hit(text=c.text, source=c.source, section=c.section, anchor=c.anchor, score=0.0, title=c.title,
                   headings=list(c.headings), chunk_id=c.id, course=self.course_label(i))

    def section_text(self, source: str, section: str) -> str:
        """The whole text of one section (all its chunks, in order): a homework item's
        requirements often span several chunks."""
        return "\n".join(c.text for c in self.chunks if c.source == source and c.section == section)

    def _add_priors(self, query: str, fused: dict[int, float], top: int = 30) -> None:
        """Query-type priors (index.priors) for the best `top` candidates."""
        from index.priors import is_usage_page, prior

        courses = self.courses
        for i in sorted(fused, key=lambda i: -fused[i])[:top]:
            usage = self._usage.get(i)
            if usage is None:
                usage = self._usage[i] = is_usage_page(self.chunks[i].text)
            fused[i] += prior(query, courses.course_number(i), usage)

    def _heading_terms(self, i: int) -> set[str]:
        terms = self._terms_cache.get(i)
        if terms is None:
            c = self.chunks[i]
            terms = self._terms_cache[i] = set(tokenize(c.section))
        return terms

    def dense_vector(self, i: int) -> np.ndarray:
        """Stored vector of chunk i (memory-mapped from vectors.npy, or from the FAISS index)."""
        if self._vectors is None:
            path = self.index_dir / "vectors.npy"
            self._vectors = np.load(path, mmap_mode="r") if path.exists() else False
        if self._vectors is False:
            return self.dense.index.reconstruct(int(i))
        return np.asarray(self._vectors[i])
