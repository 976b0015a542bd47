"""What bounds the embedded LLM's prompt speed on this CPU: quantisation and CPU kernels.

    python bench/llm_kernels.py [--quants Q4_K_M Q4_0 Q8_0] [--llama-bench PATH ...] [--threads 2]

The first token of a grounded answer waits for llama.cpp to evaluate the prompt (~390 new tokens
per answer at p50, see bench/answers.py), so its rate decides whether a 4 s first token is
possible. This measures that rate, and the generation rate, for:
- the packaged Q4_K_M and variants re-quantised from it (`--quants`: Q4_0 is the type llama.cpp
  repacks for AVX2 tiles, Q8_0 the type its llamafile kernels cover); the variants go to
  ~/.cache/tutor/bench (made once, ~45 s each, with gguf-py: Q4_K/Q6_K → f32 → target; the
  embedding and output matrices stay as shipped). They are for measurement only: a re-quantised
  Q4_0 loses accuracy, and the product always loads the checksummed file;
- the installed xllamacpp wheel (in-process, the tutor's own loader settings), on a fixed
  ~550-token Russian prompt, temperature 0, 48 answer tokens, best of two;
- each `--llama-bench` binary given (a llama.cpp source build, e.g. with AVX-512 kernels:
  `cmake -DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_AVX512=ON -DGGML_AVX512_VNNI=ON -DGGML_AMX_INT8=OFF …`),
  with `-p 400 -n 32 -r 2`. A native build on a CPU with AMX crashes in ggml_backend_amx_mul_mat
  (llama.cpp issue #20824), so keep AMX off.
Prints a table and writes JSON (machine, date, load average) to bench/results/.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import secrets
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

CACHE = Path.home() / ".cache" / "tutor" / "bench"
KEEP_AS_SHIPPED = {"token_embd.weight", "output.weight"}  # lookups and the last matmul: not the prompt's cost


def requantize(src: Path, target: str) -> Path:
    """`src` with its K-quant matrices re-quantised to `target` (Q4_0, Q8_0); cached by name."""
    import numpy as np
    from gguf import GGMLQuantizationType as Q
    from gguf import GGUFReader, GGUFValueType, GGUFWriter, quants

    dst = CACHE / f"{src.stem}.{target.lower()}.gguf"
    if dst.is_file():
        return dst
    CACHE.mkdir(parents=True, exist_ok=True)
    qtype = Q[target]
    reader = GGUFReader(src)
    writer = GGUFWriter(str(dst) + ".part", reader.fields["general.architecture"].contents())
    for name, f in reader.fields.items():
        if name.startswith("GGUF.") or name == "general.architecture":
            continue  # the writer sets these itself
        sub = f.types[1] if f.types[0] == GGUFValueType.ARRAY and len(f.types) > 1 else None
        writer.add_key_value(name, f.contents(), f.types[0], sub_type=sub)
    for t in reader.tensors:
        if t.tensor_type in (Q.Q4_K, Q.Q5_K, Q.Q6_K) and t.name not in KEEP_AS_SHIPPED:
            shape = [int(x) for x in reversed(t.shape)]  # gguf lists dims innermost first; numpy wants rows first
            data = quants.quantize(quants.dequantize(t.data, t.tensor_type).reshape(shape).astype(np.float32), qtype)
            writer.add_tensor(t.name, data, raw_shape=data.shape, raw_dtype=qtype)
        else:
            writer.add_tensor(t.name, t.data, raw_shape=t.data.shape, raw_dtype=t.tensor_type)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    os.replace(str(dst) + ".part", dst)
    return dst


def prompt_text() -> str:
    """~550 tokens of the project's own Russian lecture text: what a 3-passage prompt costs."""
    lecture = sorted((ROOT / "corpus" / "lectures").glob("*.md"))[0].read_text(encoding="utf-8")
    return lecture[:1500]


def wheel_speed(model: Path, threads: int) -> dict:
    """Prompt and generation tok/s through the installed xllamacpp, as the tutor loads it."""
    import xllamacpp

    from tutor.llm.llamacpp import PROMPT_CACHE_MIB

    p = xllamacpp.CommonParams()
    p.model.path = str(model)
    p.n_ctx, p.n_parallel = 4096, 1
    p.cpuparams.n_threads = p.cpuparams_batch.n_threads = threads
    p.cache_prompt, p.cache_ram_mib = False, PROMPT_CACHE_MIB  # every run evaluates the whole prompt
    p.warmup, p.ui, p.n_threads_http = False, False, 1
    p.api_keys = [secrets.token_hex(16)]
    p.verbosity = -1
    t0 = time.perf_counter()
    server = xllamacpp.Server(p)
    load_s = time.perf_counter() - t0
    text = prompt_text()
    best: dict = {}
    for n_chars, max_tokens in ((300, 8), (len(text), 48), (len(text), 48)):  # the first run warms up
        req = {"messages": [{"role": "system", "content": "Ты — преподаватель курса глубокого обучения."},
                            {"role": "user", "content": text[:n_chars] + "\n\nВопрос: что такое дропаут? Кратко."}],
               "max_tokens": max_tokens, "temperature": 0.0, "cache_prompt": False}
        tm = server.handle_chat_completions(req).get("timings", {})
        if n_chars == len(text) and tm.get("prompt_per_second", 0) > best.get("prompt_tps", 0):
            best = {"prompt_tokens": tm.get("prompt_n"), "prompt_tps": round(tm["prompt_per_second"], 1),
                    "generation_tps": round(tm.get("predicted_per_second", 0), 1)}
    del server
    return {"load_s": round(load_s, 1), **best}


def llama_bench_speed(binary: Path, model: Path, threads: int) -> dict:
    out = subprocess.run([str(binary), "-m", str(model), "-t", str(threads), "-p", "400", "-n", "32", "-r", "2",
                          "-o", "json"], capture_output=True, text=True, timeout=900,
                         env={**os.environ, "LD_LIBRARY_PATH": str(binary.parent)})  # its own ggml, not another build's
    if out.returncode != 0:
        tail = (out.stderr or out.stdout).strip().splitlines()[-1:] or [""]
        return {"error": f"exit {out.returncode} {tail[0][:120]}"}
    rows = json.loads(out.stdout)
    res = {}
    for r in rows:
        key = "prompt_tps" if r.get("n_prompt") else "generation_tps"
        res[key] = round(float(r["avg_ts"]), 1)
    res["prompt_tokens"] = 400
    return res


def cpu_flags() -> str:
    try:
        flags = re.search(r"^flags\s*:\s*(.*)$", Path("/proc/cpuinfo").read_text(), re.M).group(1).split()
    except (OSError, AttributeError):
        return ""
    return " ".join(f for f in ("avx2", "avx512f", "avx512_vnni", "amx_int8") if f in flags)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quants", nargs="+", default=["Q4_K_M", "Q4_0", "Q8_0"])
    ap.add_argument("--llama-bench", nargs="*", default=[], type=Path, help="llama.cpp llama-bench binaries")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--model", type=Path, default=None, help="the assembled Q4_K_M (default: the models folder's)")
    ap.add_argument("--tag", default="")
    args = ap.parse_args(argv)

    from tutor.llm.models import QWEN_CODER_1_5B, model_path, verify_model
    from tutor.settings import get_settings

    shipped = args.model or model_path(QWEN_CODER_1_5B, get_settings().models_dir)
    verify_model(QWEN_CODER_1_5B, shipped)  # the variants are made from the checked file
    rows = []
    for quant in args.quants:
        model = shipped if quant == "Q4_K_M" else requantize(shipped, quant)
        runtimes = [("xllamacpp wheel", None)] + [(f"llama-bench {b.parent.parent.name}", b)
                                                  for b in args.llama_bench]
        for runtime, binary in runtimes:
            load0 = round(os.getloadavg()[0], 2)
            try:
                res = wheel_speed(model, args.threads) if binary is None else llama_bench_speed(binary, model,
                                                                                               args.threads)
            except Exception as e:  # a variant that does not load is a result too
                res = {"error": f"{type(e).__name__}: {e}"[:160]}
            rows.append({"quant": quant, "runtime": runtime, "threads": args.threads, **res,
                         "load_avg": [load0, round(os.getloadavg()[0], 2)]})
            print(rows[-1], flush=True)

    print(f"\n| quant | runtime | prompt tok/s | gen tok/s | prompt tokens | load avg |\n|---|---|---|---|---|---|")
    for r in rows:
        load = f"{r['load_avg'][0]} → {r['load_avg'][1]}"
        print(f"| {r['quant']} | {r['runtime']} | {r.get('prompt_tps', r.get('error', '–'))} | "
              f"{r.get('generation_tps', '–')} | {r.get('prompt_tokens', '–')} | {load} |")
    out = ROOT / "bench" / "results" / f"llm-kernels-cpu-{date.today().isoformat()}{args.tag}.json"
    out.write_text(json.dumps({
        "date": date.today().isoformat(), "machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                                                      "cpu": platform.processor() or "", "flags": cpu_flags()},
        "rows": rows}, indent=2, ensure_ascii=False))
    print(f"\nwrote {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
