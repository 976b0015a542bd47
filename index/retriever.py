"""LangChain adapter: the hybrid index as a `BaseRetriever` (Documents with citation metadata)."""

from __future__ import annotations

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from index.search import HybridIndex


class CourseRetriever(BaseRetriever):
    model_config = ConfigDict(arbitrary_types_allowed=True)

    index: HybridIndex
    k: int = 5
    source_prefix: str | None = None

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        hits = self.index.search(query, k=self.k, source_prefix=self.source_prefix)
        return [
            Document(
                page_content=h.text,
                metadata={"source": h.source, "section": h.section, "anchor": h.anchor, "score": h.score,
                          "dense_score": h.dense_score, "title": h.title, "chunk_id": h.chunk_id},
            )
            for h in hits
        ]
