"""Experiment benchmark: every tool's `quick` (and with --full, `full`) preset, plus the
real-data tasks.

    python bench/experiments.py [--tools cnn dqn ...] [--presets quick full] [--device auto|cpu|cuda]
                                [--registered] [--online] [--no-builtin]

Prints a table (tool, preset, device, wall s, throughput, main metric) and writes JSON to
bench/results/experiments-<device>-<date>.json. Throughput is the tool's own counter
where it reports one (samples_per_s, steps_per_s), else epochs per second.

--registered: datasets registered the way course staff do it, from example zips built from
offline data (tutor/datasets/samples.py: MNIST-5k digits as an ImageFolder, shape canvases
as YOLO / COCO / image+mask pairs, course passages as CSV / JSONL), fine-tuned with the
tools' real-data presets (cnn transfer, detection finetune = Faster R-CNN, segmentation
finetune = U-Net, rnn and transformer quick). They are registered in a temporary data dir.
--online: the online datasets' presets (Oxford-IIIT Pet, CIFAR-10, Penn-Fudan, VOC, IMDB,
AG News, RuSentiTweet, GPT-2); offline each row says what is missing.
On a CUDA machine every real-data row runs its `<preset>_gpu` version where one exists.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import typing
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# (tool, sample format, size of the example zip, preset, overrides): one row per registered format
REGISTERED = [
    ("cnn", "imagefolder", {"classes": 5, "per_class": 160, "val_per_class": 40}, "transfer", {}),
    ("detection", "yolo", {"n": 300, "size": 96}, "finetune", {"image_size": 96}),
    ("detection", "coco", {"n": 300, "size": 96}, "quick", {"image_size": 96, "epochs": 15}),  # CenterNet on photos
    ("segmentation", "masks", {"n": 300, "size": 64}, "finetune", {"image_size": 64}),
    ("rnn", "csv", {}, "quick", {}),
    ("transformer", "jsonl", {}, "quick", {}),
]
ONLINE = {
    "cnn": ["pets", "cifar10"],
    "detection": ["pennfudan", "voc"],
    "segmentation": ["pets", "pennfudan", "voc"],
    "rnn": ["imdb", "ag_news", "ru_sentiment"],
    "transformer": ["imdb", "ag_news", "ru_sentiment", "gpt2"],
}


def measure(entry, cfg, label: dict) -> dict:
    from tools.common import MissingDataError, null_emit

    key = entry.spec.metric_for(cfg.model_dump()).key
    try:
        with tempfile.TemporaryDirectory() as d:
            r = entry.run(cfg, null_emit, out_dir=d)
    except MissingDataError as e:
        row = {**label, "error": str(e)}
        print(f"{_name(row):<34} {row['preset']:<13} missing data: {str(e)[:90]}", flush=True)
        return row
    tput = r.metrics.get("samples_per_s") or r.metrics.get("steps_per_s")
    unit = "samples/s" if "samples_per_s" in r.metrics else "steps/s" if "steps_per_s" in r.metrics else "epochs/s"
    if tput is None:
        tput = len(r.history) / r.wall_time_s if r.wall_time_s else 0.0
    row = {**label, "device": r.device, "wall_s": round(r.wall_time_s, 2), "throughput": round(float(tput), 1),
           "unit": unit, "metric": key, "value": round(r.metrics.get(key, float("nan")), 4), "gpu": r.versions.get("gpu")}
    print(f"{_name(row):<34} {row['preset']:<13} {r.device:<6} {r.wall_time_s:8.1f}s  {tput:10.1f} {unit:<10} "
          f"{key}={row['value']}", flush=True)
    return row


def _name(r: dict) -> str:
    extra = r.get("task") or (f"registered {r['format']}" if r.get("format") else None)
    return r["tool"] + (f" ({extra})" if extra else "")


def gpu_variant(entry, preset: str, device: str) -> str:
    import torch

    on_gpu = device == "cuda" or (device == "auto" and torch.cuda.is_available())
    return f"{preset}_gpu" if on_gpu and f"{preset}_gpu" in entry.presets else preset


def builtin_rows(tools, presets, device) -> list[dict]:
    from tools.registry import get_tool

    rows = []
    for name in tools:
        entry = get_tool(name)
        # a tool that does several things (rnn text/forecast, transformer classify/generate, gan
        # curve/dcgan) is measured on each of them
        task_field = entry.config_cls.model_fields.get("task")
        tasks = list(typing.get_args(task_field.annotation)) if task_field is not None else [None]
        for preset, task in [(p, t) for p in presets for t in tasks]:
            cfg = entry.make_config(preset, {"device": device} | ({"task": task} if task else {}))
            shown = entry.base_preset(preset, task)  # reported as what it ran (gan dcgan: "dcgan")
            rows.append(measure(entry, cfg, {"tool": name, "task": task, "preset": shown}))
    return rows


def registered_rows(tools, device) -> list[dict]:
    """Register the example zips in a temporary data dir, then fine-tune on each by name."""
    from tools.registry import get_tool
    from tutor import settings as settings_module
    from tutor.datasets.samples import sample_zip

    rows = []
    with tempfile.TemporaryDirectory() as data:
        old = os.environ.get("TUTOR_DATA_DIR")
        os.environ["TUTOR_DATA_DIR"] = data  # the tools resolve names through the process's settings
        settings_module.get_settings.cache_clear()
        try:
            from tutor.datasets.service import DatasetService

            svc = DatasetService()
            for tool, fmt, size, preset, over in REGISTERED:
                if tool not in tools:
                    continue
                name = f"bench-{fmt}"
                if not any(d["name"] == name for d in svc.list()):
                    svc.add(name, sample_zip(fmt, Path(data) / f"{fmt}.zip", **size), "bench")
                stats = svc.get(name)["stats"]["splits"]
                entry = get_tool(tool)
                preset = gpu_variant(entry, preset, device)
                cfg = entry.make_config(preset, {**over, "dataset_name": name, "device": device})
                rows.append(measure(entry, cfg, {"tool": tool, "task": None, "preset": preset, "format": fmt,
                                                 "data": {s: next(iter(v.values())) for s, v in stats.items()}}))
        finally:
            if old is None:
                os.environ.pop("TUTOR_DATA_DIR", None)
            else:
                os.environ["TUTOR_DATA_DIR"] = old
            settings_module.get_settings.cache_clear()
    return rows


def online_rows(tools, device) -> list[dict]:
    from tools.registry import get_tool

    rows = []
    for tool, presets in ONLINE.items():
        if tool not in tools:
            continue
        entry = get_tool(tool)
        for preset in presets:
            preset = gpu_variant(entry, preset, device)
            cfg = entry.make_config(preset, {"device": device})
            rows.append(measure(entry, cfg, {"tool": tool, "task": None, "preset": preset,
                                             "dataset": getattr(cfg, "dataset", None)}))
    return rows


def main() -> int:
    from tools.registry import TOOLS

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tools", nargs="+", default=sorted(TOOLS))
    ap.add_argument("--presets", nargs="+", default=["quick"])
    ap.add_argument("--full", action="store_true", help="also run the full presets")
    ap.add_argument("--registered", action="store_true", help="fine-tune on registered example datasets")
    ap.add_argument("--online", action="store_true", help="the online datasets' presets (need the internet)")
    ap.add_argument("--no-builtin", action="store_true", help="skip the built-in quick/full rows")
    ap.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    a = ap.parse_args()
    presets = a.presets + (["full"] if a.full and "full" not in a.presets else [])
    rows = [] if a.no_builtin else builtin_rows(a.tools, presets, a.device)
    if a.registered:
        rows += registered_rows(a.tools, a.device)
    if a.online:
        rows += online_rows(a.tools, a.device)
    print("\n| tool | preset | data | device | wall s | throughput | metric |\n|---|---|---|---|---|---|---|")
    for r in rows:
        data = ", ".join(f"{k} {v}" for k, v in (r.get("data") or {}).items()) or r.get("dataset") or "-"
        if "error" in r:
            print(f"| {_name(r)} | {r['preset']} | {data} | - | - | - | {r['error']} |")
        else:
            print(f"| {_name(r)} | {r['preset']} | {data} | {r['device']} | {r['wall_s']} | {r['throughput']} {r['unit']} | "
                  f"{r['metric']} = {r['value']} |")
    dev = next((r["device"] for r in rows if "device" in r), "cpu")
    a.out.mkdir(parents=True, exist_ok=True)
    suffix = "" if not (a.registered or a.online) else "-realdata" if a.no_builtin else "-all"
    out = a.out / f"experiments{suffix}-{dev}-{date.today().isoformat()}.json"
    out.write_text(json.dumps({"date": date.today().isoformat(), "machine": platform.platform(), "rows": rows}, indent=1))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
