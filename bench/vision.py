"""Pretrained vision models (tools/pretrained.py): cold load and per-image latency.

    python bench/vision.py [--models imagenet faces ocr] [--device auto|cpu|cuda] [--repeats 5]

On skimage's portrait, cat and espresso photos and a rendered text image (tests/photos.py).
Prints a table (model, device, load ms, median / p90 inference ms, median end-to-end ms =
decode + inference + drawing + saving) and writes bench/results/vision-<device>-t<torch threads>-<date>.json.
Online models (coco_detection, segmentation) are measured when their weights are available.
On a contended CPU try OMP_NUM_THREADS=1: torch's 2 threads wait on each other when a core is taken.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> int:
    import torch

    from tests.photos import write_photos
    from tools import pretrained as P

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", nargs="+", default=list(P.MODELS))
    ap.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    a = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-vision-"))
    photos = write_photos(tmp / "photos")
    inputs = {"ocr": [photos["text"]]}
    rows = []
    for name in a.models:
        opts = P.Options(device=a.device)
        images = inputs.get(name, [photos["astronaut"], photos["chelsea"], photos["coffee"]])
        try:
            first = P.predict(name, images[0], opts, out_dir=tmp / "out")
        except P.MissingDataError as e:
            print(f"{name}: skipped ({e.reason})")
            continue
        infer, total = [], []
        for _ in range(a.repeats):
            for img in images:
                t0 = time.perf_counter()
                pred = P.predict(name, img, opts, out_dir=tmp / "out")
                total.append((time.perf_counter() - t0) * 1000)
                infer.append(pred.latency_ms)
        infer.sort()
        rows.append({"model": name, "device": first.device, "load_ms": round(first.load_ms, 1),
                     "infer_ms_median": round(statistics.median(infer), 1),
                     "infer_ms_p90": round(infer[int(0.9 * (len(infer) - 1))], 1),
                     "total_ms_median": round(statistics.median(total), 1), "images": len(images),
                     "runs": len(infer), "input": "x".join(map(str, first.input_size))})
    print(f"{'model':15s} {'device':6s} {'load ms':>8s} {'infer p50':>10s} {'infer p90':>10s} {'total p50':>10s}")
    for r in rows:
        print(f"{r['model']:15s} {r['device']:6s} {r['load_ms']:8.0f} {r['infer_ms_median']:10.1f} "
              f"{r['infer_ms_p90']:10.1f} {r['total_ms_median']:10.1f}")
    dev = rows[0]["device"] if rows else a.device
    a.out.mkdir(parents=True, exist_ok=True)
    out = a.out / f"vision-{dev}-t{torch.get_num_threads()}-{date.today().isoformat()}.json"
    out.write_text(json.dumps({"date": date.today().isoformat(), "machine": platform.platform(),
                               "cpu_threads": torch.get_num_threads(),
                               "load_average": [round(v, 2) for v in os.getloadavg()], "rows": rows}, indent=1))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
