"""Course-scoped retrieval: the shared index and the course's own index, fused.

    shared index   DATA_DIR/index: the project corpus (lectures, tool pages) — material every
                   course shares — and the demo course's handbook (corpus/course/: its dates,
                   homework, grading), which only the demo course sees
                   (TUTOR_COURSE_PRIVATE_SOURCES)
    course index   DATA_DIR/courses/<id>/index: that course's uploaded materials

`CourseSearch.search` queries both with one query vector and fuses the two ranked lists by
reciprocal rank fusion (each index's own BM25+dense fusion stays as it is: BM25 scores of two
indexes are not comparable, ranks are). A passage of the course's index found only by the
dense side with a lower cosine than the shared index's best is left out: a course with three
short files would otherwise put an unrelated one at rank 1 for every question. A student of
course A never reaches B's index: the searcher of A holds only A's.

`CourseIndexes` caches one searcher per course and reloads a course's index when its
manifest changes on disk (the background indexer swaps a new build in), so an upload is
searchable on the next question without a restart.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any, Callable

log = logging.getLogger(__name__)

RRF_K = 20
OWN_WEIGHT = 1.0  # a course's own material and the shared lectures count the same per rank
SHARED_WEIGHT = 1.0


class CourseSearch:
    """Quacks like index.search.HybridIndex for the agent: search(), embedder, normalizer, manifest, len()."""

    def __init__(self, course_id: str, shared, own=None, private: tuple[str, ...] = ()) -> None:
        self.course_id, self.shared, self.own, self.private = course_id, shared, own, tuple(private)

    @property
    def embedder(self):
        return (self.shared or self.own).embedder

    @property
    def normalizer(self):
        """Student wording read against the shared materials' vocabulary (index.wording): the course's
        own files add passages, and the field's words are the shared lectures'."""
        return (self.shared or self.own).normalizer

    @property
    def manifest(self) -> dict[str, Any]:
        """The shared manifest's files (without the private ones) plus the course's, by citation name."""
        from tutor.courses.materials import source_name

        base = dict(getattr(self.shared, "manifest", None) or {})
        files = {s: m for s, m in (base.get("files") or {}).items() if not s.startswith(self.private)}
        if self.own is not None:
            files.update({source_name(self.course_id, s): m for s, m in (self.own.manifest.get("files") or {}).items()})
        return {**base, "files": files}

    def __len__(self) -> int:
        return (len(self.shared) if self.shared is not None else 0) + (len(self.own) if self.own is not None else 0)

    def embed_query(self, query: str):
        return (self.shared or self.own).embed_query(query)

    def hit_at(self, source: str, anchor: str | None):
        """A shared lecture passage by citation (its language twin, see tutor/agent/answer.prefer_language);
        never one of the private files of other courses."""
        if self.shared is None or source.startswith(self.private) and self.private or not hasattr(self.shared, "hit_at"):
            return None
        return self.shared.hit_at(source, anchor)

    def search(self, query: str, k: int = 5, mode: str = "hybrid", candidates: int | None = None,
               source_prefix: str | None = None, query_vector=None) -> list:
        from tutor.courses.materials import source_name

        if self.own is None and not self.private:
            return self.shared.search(query, k, mode, candidates=candidates, source_prefix=source_prefix,
                                      query_vector=query_vector)
        qv = query_vector
        if qv is None and mode != "bm25" and (query or "").strip():
            qv = self.embed_query(query)
        shared: list = []
        if self.shared is not None:
            # room for the private passages that are dropped
            got = self.shared.search(query, 4 * k + 10 if self.private else k, mode, candidates=candidates,
                                     source_prefix=source_prefix, query_vector=qv)
            shared = [h for h in got if not h.source.startswith(self.private)][:k]
        own: list = []
        if self.own is not None:
            for h in self.own.search(query, k, mode, candidates=candidates, query_vector=qv):
                h.source = source_name(self.course_id, h.source)
                if source_prefix is None or h.source.startswith(source_prefix):
                    own.append(h)
            best = max((h.dense_score or 0.0 for h in shared), default=None)
            if best is not None:
                own = [h for h in own if h.bm25_score is not None or (h.dense_score or 0.0) >= best]
        fused: dict[int, float] = {}
        by_id: dict[int, Any] = {}
        for hits, w in ((own, OWN_WEIGHT), (shared, SHARED_WEIGHT)):
            for rank, h in enumerate(hits):
                by_id[id(h)] = h
                fused[id(h)] = fused.get(id(h), 0.0) + w / (RRF_K + rank + 1)
        # ties (rank r in both lists): the course's own passage first, it is the more specific one
        order = sorted(by_id, key=lambda i: -fused[i])
        out = []
        for i in order[:k]:
            h = by_id[i]
            h.score = fused[i]
            out.append(h)
        return out


class CourseIndexes:
    """One CourseSearch per course, reloaded when the course's index changes on disk."""

    def __init__(self, settings, shared: Callable[[], Any], index_dir: Callable[[str], Path]) -> None:
        self.settings = settings
        self._shared = shared  # () -> the shared HybridIndex (raises IndexNotFound when there is none)
        self._index_dir = index_dir
        self._own: dict[str, tuple[int, Any]] = {}  # course -> (manifest mtime_ns, HybridIndex)
        self._lock = threading.Lock()

    def _load_own(self, course_id: str, embedder: Callable[[], Any] = lambda: None):
        from index.search import HybridIndex

        d = self._index_dir(course_id)
        try:
            stamp = (d / "manifest.json").stat().st_mtime_ns
        except OSError:
            with self._lock:
                self._own.pop(course_id, None)
            return None
        with self._lock:
            cached = self._own.get(course_id)
            if cached and cached[0] == stamp:
                return cached[1]
        st = self.settings
        try:
            # the shared index's encoder: one in memory, not one per course (a different one is refused)
            idx = HybridIndex.load(d, embedder=embedder(), rrf_k=st.rrf_k, use_gpu=False, dense_weight=st.dense_weight,
                                   heading_weight=st.heading_weight)
        except Exception as e:  # being swapped in right now, or damaged: the last good one (or none)
            log.warning("course %s: index not loaded (%s)", course_id, e)
            return cached[1] if cached else None
        with self._lock:
            self._own[course_id] = (stamp, idx)
        return idx

    def for_course(self, course_id: str | None) -> CourseSearch:
        st = self.settings
        course_id = course_id or st.demo_course_id
        try:
            shared = self._shared()
        except FileNotFoundError:
            shared = None
        own = self._load_own(course_id, lambda: shared.embedder if shared is not None else None)
        if shared is None and own is None:
            raise FileNotFoundError("no index: run `python -m tutor index build` first")
        private = () if course_id == st.demo_course_id else tuple(st.course_private_sources)
        return CourseSearch(course_id, shared, own, private)

    def forget(self, course_id: str) -> None:
        with self._lock:
            self._own.pop(course_id, None)
