"""Datasets registered by course staff, loaded by name (generic helper for cnn, detection,
segmentation, rnn and transformer).

A config names one with `dataset="registered"` and `dataset_name="<name>"` (giving only
`dataset_name` implies `dataset="registered"`). The name is a slug validated by the Config;
it is resolved through the registry (tutor/datasets) to the folder the upload was stored
in, and only the manifest written at registration is read: the files and labels of each
split in one normalised form, whatever the upload's format (ImageFolder, YOLO, COCO,
masks, CSV/JSONL). Images are decoded in a thread pool (PIL releases the GIL) and resized
to the tool's square input size; the tools keep the result as one tensor, on the device.

Splits: the upload's own train/val/test are kept; a missing test split is the upload's
val split or, without one, a seeded 20% of train; a missing validation split is carved
from train. `max_items` (the tools' CPU presets) caps every split with a seeded sample.
"""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import Field

from tools.common import MissingDataError
from tutor.datasets import NAME_MAX, NAME_PATTERN


def name_field():
    """The `dataset_name` field of a tool Config: a slug, never a path."""
    return Field(None, pattern=NAME_PATTERN, max_length=NAME_MAX,
                 description="With dataset=registered: the name of a dataset registered by the course staff "
                             "(GET /v1/datasets lists them).")


def default_to_registered(data: Any) -> Any:
    """Config 'before' validator: dataset_name alone means dataset=registered."""
    if isinstance(data, dict) and data.get("dataset_name") and "dataset" not in data:
        data = {**data, "dataset": "registered"}
    return data


def check_choice(cfg):
    """Config 'after' validator: dataset=registered and dataset_name come together."""
    if cfg.dataset == "registered" and not cfg.dataset_name:
        raise ValueError("dataset=registered needs dataset_name=<name of a registered dataset>")
    if cfg.dataset_name and cfg.dataset != "registered":
        raise ValueError(f"dataset_name names a registered dataset: use it with dataset=registered "
                         f"(not dataset={cfg.dataset})")
    return cfg


@dataclass
class Registered:
    name: str
    folder: Path
    manifest: dict[str, Any]

    @property
    def classes(self) -> list[str]:
        return list(self.manifest["classes"])

    def file(self, rel: str) -> Path:
        root = (self.folder / "files").resolve()
        p = (root / rel).resolve()
        if not p.is_relative_to(root):  # the manifest is ours; this guards against a corrupted one
            raise MissingDataError(f"dataset '{self.name}' has a broken manifest")
        return p


def resolve(name: str, kind: str) -> Registered:
    from tutor.datasets.service import DatasetError, DatasetService

    try:
        folder, manifest = DatasetService().resolve(name, kind)
    except DatasetError as e:
        raise MissingDataError(str(e)) from None
    return Registered(name, folder, manifest)


# ---- splits ---------------------------------------------------------------------------------------

def _carve(items: list, frac: float, rng: np.random.Generator, key=None) -> tuple[list, list]:
    """(rest, carved): a seeded, label-stratified share `frac` of items."""
    if not items or frac <= 0:
        return list(items), []
    groups: dict[Any, list[int]] = {}
    for i, it in enumerate(items):
        groups.setdefault(key(it) if key else 0, []).append(i)
    carved: set[int] = set()
    for idx in groups.values():
        idx = list(rng.permutation(idx))
        n = int(round(len(idx) * frac))
        if len(idx) > 1:
            n = min(max(n, 1), len(idx) - 1)
        carved.update(idx[:n])
    return [it for i, it in enumerate(items) if i not in carved], [it for i, it in enumerate(items) if i in carved]


def three_way(splits: dict[str, list], seed: int, key=None, val_frac: float = 0.1,
              test_frac: float = 0.2) -> tuple[list, list, list]:
    rng = np.random.default_rng(seed)
    train = list(splits.get("train", []))
    val, test = list(splits.get("val", [])), list(splits.get("test", []))
    if not test:
        if val:  # AFHQ-style train/ + val/: the val folder is the held-out test set
            test, val = val, []
        else:
            train, test = _carve(train, test_frac, rng, key)
    if not val:
        train, val = _carve(train, val_frac / (1 - test_frac), rng, key)
    return train, val, test


def cap(items: list, n: int, seed: int) -> list:
    """At most n items (0 = all), a seeded sample in the original order."""
    if not n or len(items) <= n:
        return items
    keep = np.sort(np.random.default_rng(seed).permutation(len(items))[:n])
    return [items[i] for i in keep]


# ---- image decoding --------------------------------------------------------------------------------

def _workers() -> int:
    return max(1, min(16, os.cpu_count() or 1))


def load_rgb(path: Path, size: int) -> np.ndarray:
    """(3, size, size) uint8; JPEGs decode at a reduced scale first when much larger (draft)."""
    from PIL import Image

    with Image.open(path) as img:
        if img.format == "JPEG":
            img.draft("RGB", (size, size))
        return np.asarray(img.convert("RGB").resize((size, size), Image.BILINEAR)).transpose(2, 0, 1)


def load_mask(path: Path, size: int) -> np.ndarray:
    """(size, size) class ids, resized with nearest neighbours (ids must not be blended)."""
    from PIL import Image

    with Image.open(path) as m:
        if m.mode not in ("L", "P"):
            m = m.convert("L") if m.mode == "1" else m
        return np.asarray(m.resize((size, size), Image.NEAREST)).astype(np.int64)


def decode_all(fn, items: list) -> list:
    if len(items) < 64:
        return [fn(it) for it in items]
    with ThreadPoolExecutor(_workers()) as pool:
        return list(pool.map(fn, items))


# ---- per kind ----------------------------------------------------------------------------------------

def load_classification(name: str, size: int, seed: int = 0, max_items: int = 0):
    """-> tools.datasets.ImageData with x uint8 (N, 3, size, size); validation is carved by the tool."""
    import torch

    from tools.datasets import ImageData

    ds = resolve(name, "image_classification")
    splits = ds.manifest["splits"]
    train, val, test = three_way(splits, seed, key=lambda r: r[1], val_frac=0.0)
    train, test = train + val, test  # cnn holds out its own validation share of train

    def tensors(rows):
        rows = cap(rows, max_items, seed)
        x = np.stack(decode_all(lambda r: load_rgb(ds.file(r[0]), size), rows)) if rows else np.zeros((0, 3, size, size), np.uint8)
        return torch.from_numpy(x), torch.tensor([r[1] for r in rows], dtype=torch.long)

    (xtr, ytr), (xte, yte) = tensors(train), tensors(test)
    return ImageData(xtr, ytr, xte, yte, ds.classes)


@dataclass
class DetectionData:
    """Square images with boxes in their pixel coordinates (x1, y1, x2, y2)."""
    x_train: Any  # uint8 tensor (N, 3, S, S)
    boxes_train: list[np.ndarray]
    labels_train: list[np.ndarray]
    x_test: Any
    boxes_test: list[np.ndarray]
    labels_test: list[np.ndarray]
    classes: list[str]


def scale_boxes(boxes, w: int, h: int, size: int) -> np.ndarray:
    b = np.asarray(boxes, np.float32).reshape(-1, 4)
    return b * np.array([size / w, size / h, size / w, size / h], np.float32)


def load_detection(name: str, size: int, seed: int = 0, max_items: int = 0) -> DetectionData:
    import torch

    ds = resolve(name, "detection")
    train, val, test = three_way(ds.manifest["splits"], seed, val_frac=0.0)
    train = train + val

    def part(rows):
        rows = cap(rows, max_items, seed)
        x = np.stack(decode_all(lambda r: load_rgb(ds.file(r["file"]), size), rows))
        boxes = [scale_boxes(r["boxes"], r["width"], r["height"], size) for r in rows]
        labels = [np.asarray(r["labels"], np.int64) for r in rows]
        return torch.from_numpy(x), boxes, labels

    return DetectionData(*part(train), *part(test), ds.classes)


@dataclass
class SegmentationData:
    x_train: Any  # uint8 (N, 3, S, S)
    y_train: Any  # int64 (N, S, S) class ids; ignore_index marks pixels left out of loss and metrics
    x_test: Any
    y_test: Any
    classes: list[str]
    ignore_index: int | None


def load_segmentation(name: str, size: int, seed: int = 0, max_items: int = 0) -> SegmentationData:
    import torch

    ds = resolve(name, "segmentation")
    train, val, test = three_way(ds.manifest["splits"], seed, val_frac=0.0)
    train = train + val

    def part(rows):
        rows = cap(rows, max_items, seed)
        x = np.stack(decode_all(lambda r: load_rgb(ds.file(r["image"]), size), rows))
        y = np.stack(decode_all(lambda r: load_mask(ds.file(r["mask"]), size), rows))
        return torch.from_numpy(x), torch.from_numpy(y)

    return SegmentationData(*part(train), *part(test), ds.classes, ds.manifest.get("ignore_index"))


def load_text(name: str, seed: int = 0, max_items: int = 0):
    """-> tools.textdata.TextData (train/val/test lists of (text, label index))."""
    from tools.textdata import TextData

    ds = resolve(name, "text_classification")
    splits: dict[str, list] = {}
    with open(ds.folder / "texts.jsonl", encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            splits.setdefault(r["split"], []).append((r["text"], int(r["label"])))
    train, val, test = three_way(splits, seed, key=lambda r: r[1])
    return TextData(cap(train, max_items, seed), cap(val, max_items, seed), cap(test, max_items, seed), ds.classes)


# sizes of the real datasets' training splits, for cost estimates (tools' SPEC.estimate)
ONLINE_SIZES = {"cifar10": 50000, "oxford_pets": 3680, "penn_fudan": 136, "voc": 5717, "imdb": 25000,
                "ag_news": 120000, "ru_sentiment": 10000}


def train_size(dataset: str, name: str | None, max_items: int = 0, default: int = 2000) -> int:
    """Training items a config will see: a registered dataset's count from its stats, an online
    dataset's known size, capped by the config's max_items; `default` when nothing is known."""
    n = ONLINE_SIZES.get(dataset, default)
    if dataset == "registered" and name:
        try:
            from tutor.datasets.service import DatasetService

            splits = (DatasetService().get(name).get("stats") or {}).get("splits") or {}
            counts = [sum(v.values()) if isinstance(v, dict) else int(v) for v in splits.values()]
            n = max(counts) if counts else default
        except Exception:  # not registered (yet): the submit-time check reports it; estimate the default
            n = default
    return min(n, max_items) if max_items else n
