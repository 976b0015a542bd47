"""`python -m tutor models ensure|info|verify` and `python -m tutor llm serve`."""

from __future__ import annotations

import argparse
import json
import sys


def register(sub: argparse._SubParsersAction) -> None:
    m = sub.add_parser("models", help="the packaged local models (assemble, check, list)")
    msub = m.add_subparsers(dest="models_command", metavar="ACTION")
    e = msub.add_parser("ensure", help="assemble the configured packaged model from its installed parts (once) "
                                       "and verify its checksum")
    e.add_argument("--model", default=None, help="qwen | smollm2 | all (default: the one the settings select)")
    e.set_defaults(handler=cmd_ensure)
    i = msub.add_parser("info", help="where the packaged models are, whether they are ready, what each model can do")
    i.add_argument("--json", action="store_true")
    i.add_argument("--verify", action="store_true", help="also hash the files (~1.5 s per GB)")
    i.set_defaults(handler=cmd_info)
    v = msub.add_parser("verify", help="check the sha256 of the packaged model files (exit 1 on a mismatch)")
    v.add_argument("--model", default="all", help="qwen | smollm2 | all")
    v.set_defaults(handler=cmd_verify)
    m.set_defaults(handler=lambda a: (m.print_help(), 2)[1])

    llm = sub.add_parser("llm", help="the local LLM")
    lsub = llm.add_subparsers(dest="llm_command", metavar="ACTION")
    s = lsub.add_parser("serve", help="serve the local GGUF as an OpenAI-compatible API (/v1) until Ctrl-C")
    s.add_argument("--model", default=None, help="qwen (default) | smollm2 | a GGUF path")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8081, help="0 picks a free port (printed)")
    s.add_argument("--api-key", default=None, help="required on a non-loopback host (default TUTOR_LLM_API_KEY)")
    s.add_argument("--ctx", type=int, default=None, help="context window (default: TUTOR_LLM_CONTEXT or the table's)")
    s.add_argument("--threads", type=int, default=None, help="CPU threads (default: TUTOR_LLM_THREADS; 0 = free cores)")
    s.set_defaults(handler=cmd_serve)
    llm.set_defaults(handler=lambda a: (llm.print_help(), 2)[1])


def _settings():
    from tutor.settings import get_settings

    return get_settings()


def _packaged(which: str | None, st) -> list:
    """The packaged models a command is about; [] when the settings select none."""
    from tutor.llm import catalog

    if which == "all":
        return [p.packaged for p in catalog.PROFILES.values() if p.packaged]
    if which:
        profile = catalog.lookup(which)
        if profile is None or profile.packaged is None:
            names = ", ".join(p.aliases[0] for p in (catalog.QWEN, catalog.SMOLLM2))
            raise ValueError(f"'{which}' is not a packaged model (use {names} or all)")
        return [profile.packaged]
    if st.llm_backend != "llamacpp":
        return []
    profile = catalog.lookup(st.llm_model) if st.llm_model else catalog.DEFAULT_LOCAL
    return [profile.packaged] if profile is not None and profile.packaged else []


def cmd_ensure(a) -> int:
    import time

    from tutor.llm.models import ModelFileError, ensure_model

    st = _settings()
    try:
        wanted = _packaged(a.model, st)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if not wanted:
        print(f"no packaged model needed (TUTOR_LLM_BACKEND={st.llm_backend}, TUTOR_LLM_MODEL={st.llm_model or ''})")
        return 0
    for pm in wanted:
        t0 = time.monotonic()
        try:
            path, assembled = ensure_model(pm, st.models_dir)
        except ModelFileError as e:
            print(f"error: {e}", file=sys.stderr)
            return 1
        how = "assembled from its parts and verified" if assembled else "present, sha256 verified"
        print(f"{pm.key}: {path} ({how}, {time.monotonic() - t0:.1f} s)")
    return 0


def cmd_verify(a) -> int:
    from tutor.llm.models import ModelFileError, model_path, verify_model

    st = _settings()
    try:
        wanted = _packaged(a.model, st)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    failed = 0
    for pm in wanted:
        try:
            path = verify_model(pm, model_path(pm, st.models_dir))
            print(f"{pm.key}: OK {path}")
        except ModelFileError as e:
            print(f"{pm.key}: FAILED: {e}", file=sys.stderr)
            failed += 1
    return 1 if failed else 0


def cmd_info(a) -> int:
    from tutor.llm import catalog
    from tutor.llm.models import model_info

    st = _settings()
    files = [model_info(p.packaged, st.models_dir, verify=a.verify) for p in catalog.PROFILES.values() if p.packaged]
    selected = (catalog.lookup(st.llm_model) if st.llm_model else catalog.DEFAULT_LOCAL)
    out = {"backend": st.llm_backend, "model": st.llm_model or catalog.DEFAULT_LOCAL.key,
           "profile": selected.key if selected else None, "models_dir": str(st.models_dir),
           "files": files, "table": catalog.table()}
    if a.json:
        print(json.dumps(out, ensure_ascii=False))
        return 0
    print(f"backend {out['backend']}, model {out['model']}, models folder {out['models_dir']}")
    for f in files:
        state = "ready" if f.get("present") else "not assembled"
        if "verified" in f:
            state += ", sha256 OK" if f["verified"] else ", CHECKSUM MISMATCH"
        parts = f" parts {f['parts_installed']}" if "parts_installed" in f else ""
        print(f"  {f['model']}: {state}{parts}  {f.get('path') or ''}")
        if f.get("problem"):
            print(f"    {f['problem']}")
    print("what each model can do (TUTOR_LLM_TOOL_CALLING / TUTOR_LLM_GENERATIVE override):")
    for row in out["table"]:
        print(f"  {row['key']:<28} langs {','.join(row['languages']):<6} context {row['context']:>6}  "
              f"generative {'yes' if row['generative_answers'] else 'no ':<3}  tools {row['tool_calling']}")
    return 0


def cmd_serve(a) -> int:
    from tutor.llm.base import LLMUnavailable
    from tutor.llm.serve import serve_forever

    st = _settings()
    if not 0 <= a.port <= 65535:
        print("error: --port must be between 0 and 65535", file=sys.stderr)
        return 2
    if a.ctx is not None and not 256 <= a.ctx <= 1_048_576:
        print("error: --ctx must be between 256 and 1048576", file=sys.stderr)
        return 2
    if a.threads is not None and not 0 <= a.threads <= 256:
        print("error: --threads must be between 0 and 256", file=sys.stderr)
        return 2
    try:
        serve_forever(st, a.model, a.host, a.port, a.api_key or st.llm_api_key, a.ctx, a.threads,
                      announce=lambda line: print(line, flush=True))
    except LLMUnavailable as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0
