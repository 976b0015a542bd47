import pytest

from index.builder import build_index
from index.search import HybridIndex, IndexNotFound
from index.retriever import CourseRetriever


@pytest.fixture
def index(tmp_path, small_corpus, use_embedder):
    build_index([small_corpus], tmp_path / "idx", embedder=use_embedder, progress=False)
    return HybridIndex.load(tmp_path / "idx", embedder=use_embedder)


@pytest.mark.parametrize("mode", ["hybrid", "dense", "bm25"])
def test_finds_the_right_section(index, mode):
    hits = index.search("что такое experience replay в DQN", k=2, mode=mode)
    assert hits[0].source.endswith("rl.md") and hits[0].section.endswith("DQN")
    assert hits[0].anchor.startswith("L")


def test_cross_lingual_dense(index):
    hits = index.search("how does max pooling reduce resolution", k=1, mode="dense")
    assert hits[0].section.endswith("Пулинг")


def test_hybrid_scores_sorted_and_dense_score_present(index):
    hits = index.search("генератор дискриминатор", k=3)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert all(h.dense_score is not None and -1.0 <= h.dense_score <= 1.0 for h in hits)
    assert hits[0].source.endswith("gan.md")


def test_empty_query_and_source_filter(index):
    assert index.search("   ", k=3) == []
    hits = index.search("сеть", k=5, source_prefix="corpus/gan")
    assert hits and all(h.source == "corpus/gan.md" for h in hits)


def test_reranker_hook(index):
    def reverse(query, hits):
        return list(reversed(hits))

    index.reranker = reverse
    plain = HybridIndex.load(index.index_dir, embedder=index.embedder).search("пулинг", k=3)
    reranked = index.search("пулинг", k=3)
    assert reranked and reranked[0].chunk_id != plain[0].chunk_id or len(plain) == 1


def test_langchain_retriever(index):
    docs = CourseRetriever(index=index, k=2).invoke("паддинг нули по краям")
    assert docs[0].metadata["section"].endswith("Паддинг") and docs[0].metadata["anchor"]


def test_missing_index(tmp_path):
    with pytest.raises(IndexNotFound, match="index build"):
        HybridIndex.load(tmp_path / "nope")
