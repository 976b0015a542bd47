"""Experiment benchmark: every tool's `quick` (and with --full, `full`) preset.

    python bench/experiments.py [--tools cnn dqn ...] [--presets quick full] [--device auto|cpu|cuda]

Prints a table (tool, preset, device, wall s, throughput, main metric) and writes JSON to
bench/results/experiments-<device>-<date>.json. Throughput is the tool's own counter
where it reports one (samples_per_s, steps_per_s), else epochs per second.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import typing
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> int:
    from tools.common import MissingDataError, null_emit
    from tools.registry import TOOLS, get_tool

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tools", nargs="+", default=sorted(TOOLS))
    ap.add_argument("--presets", nargs="+", default=["quick"])
    ap.add_argument("--full", action="store_true", help="also run the full presets")
    ap.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    a = ap.parse_args()
    presets = a.presets + (["full"] if a.full and "full" not in a.presets else [])
    rows = []
    for name in a.tools:
        entry = get_tool(name)
        # a tool that does several things (rnn text/forecast, transformer classify/generate, gan
        # curve/dcgan) is measured on each of them
        task_field = entry.config_cls.model_fields.get("task")
        tasks = list(typing.get_args(task_field.annotation)) if task_field is not None else [None]
        for preset, task in [(p, t) for p in presets for t in tasks]:
            over = {"device": a.device} | ({"task": task} if task else {})
            cfg = entry.make_config(preset, over)
            preset = entry.base_preset(preset, task)  # reported as what it ran (gan dcgan: "dcgan")
            key = entry.spec.metric_for(cfg.model_dump()).key
            try:
                with tempfile.TemporaryDirectory() as d:
                    r = entry.run(cfg, null_emit, out_dir=d)
            except MissingDataError as e:
                rows.append({"tool": name, "task": task, "preset": preset, "error": str(e)})
                continue
            tput = r.metrics.get("samples_per_s") or r.metrics.get("steps_per_s")
            unit = "samples/s" if "samples_per_s" in r.metrics else "steps/s" if "steps_per_s" in r.metrics else "epochs/s"
            if tput is None:
                tput = len(r.history) / r.wall_time_s if r.wall_time_s else 0.0
            rows.append({"tool": name, "task": task, "preset": preset, "device": r.device, "wall_s": round(r.wall_time_s, 2),
                         "throughput": round(float(tput), 1), "unit": unit, "metric": key,
                         "value": round(r.metrics.get(key, float("nan")), 4), "gpu": r.versions.get("gpu")})
            print(f"{name + (f' ({task})' if task else ''):<24} {preset:<6} {r.device:<6} {r.wall_time_s:8.1f}s  {tput:10.1f} {unit:<10} {key}={rows[-1]['value']}",
                  flush=True)
    print("\n| tool | preset | device | wall s | throughput | metric |\n|---|---|---|---|---|---|")
    for r in rows:
        label = r["tool"] + (f" ({r['task']})" if r.get("task") else "")
        if "error" in r:
            print(f"| {label} | {r['preset']} | - | - | - | {r['error']} |")
        else:
            print(f"| {label} | {r['preset']} | {r['device']} | {r['wall_s']} | {r['throughput']} {r['unit']} | "
                  f"{r['metric']} = {r['value']} |")
    dev = rows[0].get("device", "cpu") if rows else "cpu"
    a.out.mkdir(parents=True, exist_ok=True)
    out = a.out / f"experiments-{dev}-{date.today().isoformat()}.json"
    out.write_text(json.dumps({"date": date.today().isoformat(), "machine": platform.platform(), "rows": rows}, indent=1))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
