"""Stage 2 of the validation (stage 1, the zip itself, is tutor/datasets/validator.py): the
layout of one format, checked file by file on the extracted copy — images by header before
decoding, then decoded; YOLO labels, COCO annotations, masks, text rows.

The manifest written for a valid dataset is the only thing the tools read
(tools/registered.py): per split, the files and their labels in one normalised form,
whatever the upload's format was.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from tutor.datasets import FORMATS, KINDS
from tutor.datasets.images import IMAGE_EXTENSIONS, ImageProblem, check_header, decode_check
from tutor.datasets.validator import (LOSSLESS_MASKS, MAX_ANNOTATION_FILE, MAX_LABEL_CHARS, MAX_LABEL_LINES, SPLITS,
                                      TEXT_EXTENSIONS, DatasetRejected, Limits, Problems, _ext, _few, is_image)


@dataclass
class Validated:
    kind: str
    format: str
    classes: list[str]
    stats: dict[str, Any]
    manifest: dict[str, Any]
    rows: list[dict[str, Any]] | None = None  # text datasets: normalised rows (texts.jsonl)


@dataclass
class _Images:
    """Checked images: rel path -> (width, height)."""
    sizes: dict[str, tuple[int, int]] = field(default_factory=dict)

    def size_range(self) -> dict[str, list[int]]:
        if not self.sizes:
            return {}
        ws = [w for w, _ in self.sizes.values()]
        hs = [h for _, h in self.sizes.values()]
        return {"min": [min(ws), min(hs)], "max": [max(ws), max(hs)]}


def detect_format(names: list[str]) -> str:
    tops = {n.split("/", 1)[0].lower() for n in names if "/" in n}
    has_images = any(is_image(n) for n in names)
    if "images" in tops and "masks" in tops:
        return "masks"
    if "images" in tops and "labels" in tops:
        return "yolo"
    if has_images and any(_ext(n) == ".json" for n in names):
        return "coco"
    texts = [n for n in names if _ext(n) in TEXT_EXTENSIONS]
    if texts and not has_images:
        return "jsonl" if all(_ext(n) == ".jsonl" for n in texts) else "csv"
    if has_images:
        return "imagefolder"
    raise DatasetRejected(["cannot tell the dataset's layout: expected class folders of images (ImageFolder), "
                           "images/ + labels/ (YOLO), images/ + one .json (COCO), images/ + masks/ (segmentation) "
                           "or a .csv/.jsonl file with text and label columns"])


def validate_layout(root: Path, names: list[str], limits: Limits, kind: str | None = None) -> Validated:
    if kind is not None and kind not in KINDS:
        raise DatasetRejected([f"unknown kind '{kind}'; choose one of {', '.join(KINDS)}"])
    fmt = detect_format(names)
    if kind is not None and FORMATS[fmt] != kind:
        wanted = " or ".join(f for f, k in FORMATS.items() if k == kind)
        raise DatasetRejected([f"kind={kind} needs a {wanted} layout, but the zip looks like '{fmt}' "
                               f"({FORMATS[fmt]})"])
    check = {"imagefolder": _imagefolder, "yolo": _yolo, "coco": _coco, "masks": _masks,
             "csv": _text, "jsonl": _text}[fmt]
    out = check(root, names, limits)
    out.stats["files"] = len(names)
    out.stats["unpacked_bytes"] = sum((root / n).stat().st_size for n in names)
    out.manifest.update({"kind": out.kind, "format": out.format, "classes": out.classes})
    return out


def _split_of(first: str) -> str | None:
    return SPLITS.get(first.lower())


def _check_images(root: Path, rels: list[str], limits: Limits, problems: Problems, decode: bool = True) -> _Images:
    out = _Images()
    for rel in rels:
        try:
            h = check_header(root / rel, limits.max_image_side, limits.max_image_pixels)
            if decode:
                decode_check(root / rel, h)
            out.sizes[rel] = (h.width, h.height)
        except ImageProblem as e:
            problems.add(f"{rel}: {e}")
        except Exception as e:  # PIL raises many types for broken data
            problems.add(f"{rel}: cannot be decoded ({type(e).__name__})")
    return out


def _docs_and_others(names: list[str], used: set[str], extra_ok=()) -> list[str]:
    """Files that belong to no part of the layout (top-level .md/.txt notes are fine)."""
    out = []
    for n in names:
        if n in used or n in extra_ok:
            continue
        if "/" not in n and _ext(n) in (".md", ".txt"):
            continue
        out.append(n)
    return out


def _imagefolder(root: Path, names: list[str], limits: Limits) -> Validated:
    problems = Problems()
    imgs = [n for n in names if is_image(n)]
    others = _docs_and_others(names, set(imgs))
    if others:
        problems.add(f"files that are not images in an ImageFolder: {_few(others)}")
    split_mode = all(_split_of(n.split("/", 1)[0]) for n in imgs if "/" in n) and any("/" in n for n in imgs)
    split_mode = split_mode and all(n.count("/") >= 2 for n in imgs)
    items: dict[str, list[tuple[str, str]]] = {}
    for n in imgs:
        parts = n.split("/")
        if split_mode:
            split, cls = _split_of(parts[0]), parts[1]
        elif len(parts) >= 2:
            split, cls = "train", parts[0]
        else:
            problems.add(f"{n}: an image outside a class folder (ImageFolder: one folder per class)")
            continue
        items.setdefault(split, []).append((n, cls))
    train = Counter(c for _, c in items.get("train", []))
    if split_mode and "train" not in items:
        problems.add("split folders (val/, test/) without a train/ folder")
    classes = sorted(train)
    if len(classes) < 2:
        problems.add(f"an ImageFolder needs at least 2 class folders, found {len(classes)}"
                     + (f" ({classes[0]})" if classes else ""))
    small = [f"{c} ({n})" for c, n in sorted(train.items()) if n < limits.min_per_class]
    if small:
        problems.add(f"classes with fewer than {limits.min_per_class} training images: {_few(small, 5)}")
    for split, rows in items.items():
        unknown = sorted({c for _, c in rows} - set(classes))
        if split != "train" and unknown:
            problems.add(f"{split}/ has classes that train/ lacks: {_few(unknown)}")
    checked = _check_images(root, imgs, limits, problems)
    problems.raise_if_any()
    idx = {c: i for i, c in enumerate(classes)}
    manifest = {"splits": {s: [[rel, idx[c]] for rel, c in sorted(rows)] for s, rows in items.items()}}
    stats = {"splits": {s: {"images": len(rows), "per_class": dict(sorted(Counter(c for _, c in rows).items()))}
                        for s, rows in items.items()},
             "image_size": checked.size_range()}
    return Validated("image_classification", "imagefolder", classes, stats, manifest)


def _read_small_text(path: Path, limit: int = 1_000_000) -> str:
    data = path.read_bytes()[: limit + 1]
    if len(data) > limit:
        raise ValueError(f"larger than {limit:,} bytes")
    return data.decode("utf-8-sig")


def _class_names(root: Path, names: list[str], problems: Problems, required: bool) -> tuple[list[str] | None, str | None]:
    """classes.txt / obj.names (one name a line) or data.yaml (`names:` list or {id: name})."""
    lower = {n.lower(): n for n in names}
    for cand in ("classes.txt", "obj.names", "labels/classes.txt"):
        if cand in lower:
            try:
                rows = [r.strip() for r in _read_small_text(root / lower[cand]).splitlines()]
            except (ValueError, UnicodeDecodeError) as e:
                problems.add(f"{lower[cand]}: cannot be read ({e})")
                return None, lower[cand]
            rows = [r for r in rows if r]
            return rows, lower[cand]
    for cand in ("data.yaml", "data.yml", "dataset.yaml"):
        if cand in lower:
            import yaml

            try:
                doc = yaml.safe_load(_read_small_text(root / lower[cand], 64_000))
                names_ = doc.get("names") if isinstance(doc, dict) else None
                if isinstance(names_, dict):
                    names_ = [names_[k] for k in sorted(names_)]
                if not isinstance(names_, list) or not all(isinstance(x, (str, int)) for x in names_):
                    raise ValueError("no 'names:' list")
                return [str(x) for x in names_], lower[cand]
            except Exception as e:
                problems.add(f"{lower[cand]}: cannot be read ({type(e).__name__}: {str(e)[:80]})")
                return None, lower[cand]
    if required:
        problems.add("no class names: add classes.txt (one name per line, line order = class id) or data.yaml "
                     "with a 'names:' list")
    return None, None


def _classes_ok(classes: list[str], problems: Problems) -> None:
    if len(set(classes)) != len(classes):
        problems.add(f"duplicate class names: {_few(sorted(c for c, n in Counter(classes).items() if n > 1))}")
    if any(len(c) > MAX_LABEL_CHARS for c in classes):
        problems.add(f"class names longer than {MAX_LABEL_CHARS} characters")


def _keyed(names: list[str], top: str, exts: tuple[str, ...]) -> dict[str, str]:
    """'images/train/a.jpg' -> key 'train/a' (split folder kept, extension dropped)."""
    out = {}
    for n in names:
        parts = n.split("/")
        if parts[0].lower() == top and len(parts) > 1 and _ext(n) in exts:
            out[str(PurePosixPath(*parts[1:]).with_suffix(""))] = n
    return out


def _split_from_key(key: str) -> str:
    first = key.split("/", 1)[0]
    return (_split_of(first) or "train") if "/" in key else "train"


def _yolo(root: Path, names: list[str], limits: Limits) -> Validated:
    problems = Problems()
    classes, cls_file = _class_names(root, names, problems, required=True)
    images = _keyed(names, "images", IMAGE_EXTENSIONS)
    labels = _keyed(names, "labels", (".txt",))
    if cls_file in labels.values():
        labels = {k: v for k, v in labels.items() if v != cls_file}
    used = set(images.values()) | set(labels.values()) | ({cls_file} if cls_file else set())
    others = _docs_and_others(names, used)
    if others:
        problems.add(f"files outside images/ and labels/: {_few(others)}")
    orphans = sorted(set(labels) - set(images))
    if orphans:
        problems.add(f"label files without an image: {_few(labels[k] for k in orphans)}")
    checked = _check_images(root, sorted(images.values()), limits, problems)
    n_classes = len(classes or [])
    if classes is not None:
        _classes_ok(classes, problems)
        if n_classes < 1:
            problems.add("the class names file is empty")
    items: dict[str, list[dict]] = {}
    boxes_per_class: Counter = Counter()
    with_boxes = 0
    for key in sorted(images):
        rel = images[key]
        size = checked.sizes.get(rel)
        boxes, labs = [], []
        if key in labels and size is not None and classes is not None:
            boxes, labs = _yolo_labels(root, labels[key], size, n_classes, problems)
        boxes_per_class.update(labs)
        with_boxes += bool(boxes)
        items.setdefault(_split_from_key(key), []).append(
            {"file": rel, "width": size[0] if size else 0, "height": size[1] if size else 0, "boxes": boxes,
             "labels": labs})
    if not problems and with_boxes < limits.min_per_class:
        problems.add(f"only {with_boxes} images have boxes; at least {limits.min_per_class} are needed")
    problems.raise_if_any()
    return _detection_result("yolo", classes, items, boxes_per_class, checked)


def _yolo_labels(root: Path, rel: str, size: tuple[int, int], n_classes: int, problems: Problems):
    w_img, h_img = size
    try:
        text = _read_small_text(root / rel)
    except (ValueError, UnicodeDecodeError) as e:
        problems.add(f"{rel}: cannot be read ({e})")
        return [], []
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if len(lines) > MAX_LABEL_LINES:
        problems.add(f"{rel}: more than {MAX_LABEL_LINES} boxes")
        return [], []
    boxes, labs = [], []
    for no, line in enumerate(lines, 1):
        parts = line.split()
        if len(parts) != 5:
            hint = " (polygon labels of YOLO segmentation are not supported: use boxes)" if len(parts) > 5 else ""
            problems.add(f"{rel} line {no}: expected 'class cx cy w h', got {len(parts)} values{hint}")
            continue
        try:
            c = int(parts[0])
            cx, cy, w, h = (float(v) for v in parts[1:])
        except ValueError:
            problems.add(f"{rel} line {no}: class must be an integer and coordinates numbers")
            continue
        if not 0 <= c < n_classes:
            problems.add(f"{rel} line {no}: class {c} is not in 0..{n_classes - 1}")
            continue
        vals = (cx, cy, w, h)
        if not all(math.isfinite(v) and 0.0 <= v <= 1.0 for v in vals) or w <= 0 or h <= 0:
            problems.add(f"{rel} line {no}: cx cy w h must be in [0, 1] (normalised by the image size), w and h > 0")
            continue
        eps = 1e-3
        if cx - w / 2 < -eps or cy - h / 2 < -eps or cx + w / 2 > 1 + eps or cy + h / 2 > 1 + eps:
            problems.add(f"{rel} line {no}: the box reaches outside the image")
            continue
        x1, y1 = max(0.0, (cx - w / 2) * w_img), max(0.0, (cy - h / 2) * h_img)
        x2, y2 = min(float(w_img), (cx + w / 2) * w_img), min(float(h_img), (cy + h / 2) * h_img)
        boxes.append([round(x1, 2), round(y1, 2), round(x2, 2), round(y2, 2)])
        labs.append(c)
    return boxes, labs


def _detection_result(fmt: str, classes: list[str], items: dict, boxes_per_class: Counter, checked: _Images) -> Validated:
    stats = {"splits": {s: {"images": len(rows), "boxes": sum(len(r["boxes"]) for r in rows),
                            "images_without_boxes": sum(not r["boxes"] for r in rows)} for s, rows in items.items()},
             "boxes_per_class": {classes[c]: n for c, n in sorted(boxes_per_class.items())},
             "image_size": checked.size_range()}
    return Validated("detection", fmt, classes, stats, {"splits": items})


def _coco(root: Path, names: list[str], limits: Limits) -> Validated:
    problems = Problems()
    jsons = [n for n in names if _ext(n) == ".json"]
    by_split: dict[str, str] = {}
    if len(jsons) == 1:
        by_split["train"] = jsons[0]
    else:
        for j in jsons:
            m = re.search(r"(train|validation|valid|val|test|dev)", PurePosixPath(j).stem.lower())
            split = SPLITS[m.group(1)] if m else None
            if split is None or split in by_split:
                problems.add(f"several .json files: each must name its split (train/val/test), '{j}' does not"
                             if split is None else f"two annotation files for the {split} split")
                continue
            by_split[split] = j
    file_set = {n: n for n in names}
    lower = {n.casefold(): n for n in names}
    all_images = {n for n in names if is_image(n)}
    referenced: set[str] = set()
    categories_seen: list[list[tuple[int, str]]] = []
    raw_items: dict[str, list[tuple[str, int, int, list, list]]] = {}
    for split, j in sorted(by_split.items()):
        doc = _load_json(root / j, j, problems)
        if doc is None:
            continue
        if not isinstance(doc, dict) or not all(isinstance(doc.get(k), list) for k in ("images", "annotations", "categories")):
            problems.add(f"{j}: a COCO file needs 'images', 'annotations' and 'categories' lists")
            continue
        cats = []
        for c in doc["categories"]:
            if not isinstance(c, dict) or not isinstance(c.get("id"), int) or not isinstance(c.get("name"), str):
                problems.add(f"{j}: every category needs an integer 'id' and a 'name'")
                break
            cats.append((c["id"], c["name"]))
        cat_ids = [c for c, _ in cats]
        if len(set(cat_ids)) != len(cat_ids):
            problems.add(f"{j}: duplicate category ids")
        categories_seen.append(sorted(cats))
        imgs: dict[int, tuple[str, int, int]] = {}
        base = str(PurePosixPath(j).parent)
        for im in doc["images"]:
            if not isinstance(im, dict) or not isinstance(im.get("id"), int) or not isinstance(im.get("file_name"), str):
                problems.add(f"{j}: every image needs an integer 'id' and a 'file_name'")
                continue
            if im["id"] in imgs:
                problems.add(f"{j}: duplicate image id {im['id']}")
                continue
            rel = _find_image(im["file_name"], base, split, file_set, lower)
            if rel is None:
                problems.add(f"{j}: image {im['id']} file '{str(im['file_name'])[:80]}' is not in the zip")
                continue
            imgs[im["id"]] = (rel, im.get("width"), im.get("height"))
            referenced.add(rel)
        ann_by_image: dict[int, list[tuple[list[float], int]]] = {i: [] for i in imgs}
        cat_set = set(cat_ids)
        for a in doc["annotations"]:
            if not isinstance(a, dict):
                problems.add(f"{j}: an annotation is not an object")
                continue
            if a.get("iscrowd"):
                continue  # crowd regions are not boxes to detect (COCO's own evaluation ignores them)
            iid, cid, bbox = a.get("image_id"), a.get("category_id"), a.get("bbox")
            if iid not in imgs:
                problems.add(f"{j}: annotation {a.get('id')} refers to image {str(iid)[:20]}, which is not listed")
                continue
            if cid not in cat_set:
                problems.add(f"{j}: annotation {a.get('id')} refers to category {str(cid)[:20]}, which is not listed")
                continue
            if (not isinstance(bbox, list) or len(bbox) != 4 or
                    not all(isinstance(v, (int, float)) and math.isfinite(v) for v in bbox)):
                problems.add(f"{j}: annotation {a.get('id')} needs bbox [x, y, width, height]")
                continue
            if bbox[2] <= 0 or bbox[3] <= 0:
                problems.add(f"{j}: annotation {a.get('id')} has a box of zero or negative size")
                continue
            ann_by_image[iid].append((bbox, cid))
        split_rows = raw_items.setdefault(split, [])
        for iid, (rel, w, h) in imgs.items():
            boxes = [b for b, _ in ann_by_image[iid]]
            split_rows.append((rel, w, h, boxes, [c for _, c in ann_by_image[iid]]))
    if len({tuple(c) for c in categories_seen}) > 1:
        problems.add("the annotation files list different categories")
    checked = _check_images(root, sorted(referenced), limits, problems)
    cats = categories_seen[0] if categories_seen else []
    classes = [name for _, name in cats]
    _classes_ok(classes, problems)
    if not cats and not problems:
        problems.add("no categories")
    cat_index = {cid: i for i, (cid, _) in enumerate(cats)}
    items: dict[str, list[dict]] = {}
    per_class: Counter = Counter()
    with_boxes = 0
    for split, rows in raw_items.items():
        for rel, w, h, boxes, cids in sorted(rows, key=lambda r: r[0]):
            size = checked.sizes.get(rel)
            if size is None:
                continue
            if (w, h) != size and w is not None:
                problems.add(f"{rel}: the json says {w}x{h}, the image is {size[0]}x{size[1]}")
                continue
            W, H = size
            out_b, out_l = [], []
            for (x, y, bw, bh), cid in zip(boxes, cids):
                if x < -1 or y < -1 or x + bw > W + 1 or y + bh > H + 1:
                    problems.add(f"{rel}: a box reaches outside the {W}x{H} image")
                    continue
                out_b.append([round(max(0.0, x), 2), round(max(0.0, y), 2), round(min(W, x + bw), 2),
                              round(min(H, y + bh), 2)])
                out_l.append(cat_index[cid])
            per_class.update(out_l)
            with_boxes += bool(out_b)
            items.setdefault(split, []).append({"file": rel, "width": W, "height": H, "boxes": out_b, "labels": out_l})
    others = _docs_and_others(names, referenced | set(jsons), extra_ok=all_images)
    if others:
        problems.add(f"files that are neither images nor the annotation json: {_few(others)}")
    if not problems and with_boxes < limits.min_per_class:
        problems.add(f"only {with_boxes} images have boxes; at least {limits.min_per_class} are needed")
    problems.raise_if_any()
    out = _detection_result("coco", classes, items, per_class, checked)
    out.stats["unreferenced_images"] = len(all_images - referenced)
    return out


def _load_json(path: Path, rel: str, problems: Problems):
    if path.stat().st_size > MAX_ANNOTATION_FILE:
        problems.add(f"{rel}: larger than {MAX_ANNOTATION_FILE:,} bytes")
        return None
    try:
        return json.loads(path.read_bytes().decode("utf-8-sig"))
    except UnicodeDecodeError:
        problems.add(f"{rel}: not UTF-8 text")
    except (json.JSONDecodeError, RecursionError) as e:
        problems.add(f"{rel}: invalid JSON ({str(e)[:80]})")
    return None


def _find_image(file_name: str, base: str, split: str, file_set: dict, lower: dict) -> str | None:
    fn = file_name.replace("\\", "/")
    parts = [p for p in fn.split("/") if p not in ("", ".")]
    if fn.startswith("/") or ".." in parts or not parts:
        return None
    fn = "/".join(parts)
    cands = [f"{base}/{fn}" if base != "." else fn, fn, f"images/{fn}", f"images/{split}/{fn}",
             f"images/{parts[-1]}", f"images/{split}/{parts[-1]}", parts[-1]]
    for c in cands:
        c = unicodedata.normalize("NFC", c)
        if c in file_set and is_image(c):
            return c
        if c.casefold() in lower and is_image(lower[c.casefold()]):
            return lower[c.casefold()]
    return None


def _masks(root: Path, names: list[str], limits: Limits) -> Validated:
    import numpy as np
    from PIL import Image

    problems = Problems()
    classes, cls_file = _class_names(root, names, problems, required=False)
    images = _keyed(names, "images", IMAGE_EXTENSIONS)
    masks = _keyed(names, "masks", IMAGE_EXTENSIONS)
    lossy = [v for v in masks.values() if _ext(v) not in LOSSLESS_MASKS]
    if lossy:
        problems.add(f"masks must be lossless images (PNG), not JPEG/WebP: {_few(lossy)}")
    used = set(images.values()) | set(masks.values()) | ({cls_file} if cls_file else set())
    others = _docs_and_others(names, used)
    if others:
        problems.add(f"files outside images/ and masks/: {_few(others)}")
    no_mask = sorted(set(images) - set(masks))
    no_image = sorted(set(masks) - set(images))
    if no_mask:
        problems.add(f"images without a mask of the same name: {_few(images[k] for k in no_mask)}")
    if no_image:
        problems.add(f"masks without an image of the same name: {_few(masks[k] for k in no_image)}")
    pairs = sorted(set(images) & set(masks))
    if len(pairs) < 2 * limits.min_per_class and not problems:
        problems.add(f"only {len(pairs)} image/mask pairs; at least {2 * limits.min_per_class} are needed")
    checked = _check_images(root, [images[k] for k in pairs], limits, problems)
    mask_sizes = _check_images(root, [masks[k] for k in pairs], limits, problems, decode=False)
    pixel_counts: Counter = Counter()
    max_value = -1
    for k in pairs:
        im, mk = images[k], masks[k]
        if im not in checked.sizes or mk not in mask_sizes.sizes:
            continue
        if checked.sizes[im] != mask_sizes.sizes[mk]:
            problems.add(f"{mk}: {mask_sizes.sizes[mk][0]}x{mask_sizes.sizes[mk][1]}, but its image is "
                         f"{checked.sizes[im][0]}x{checked.sizes[im][1]}")
            continue
        try:
            with Image.open(root / mk) as m:
                if m.mode not in ("L", "P", "1", "I;16", "I"):
                    problems.add(f"{mk}: a mask holds one class id per pixel (grayscale or palette PNG), got mode {m.mode}")
                    continue
                arr = np.asarray(m)
        except Exception as e:
            problems.add(f"{mk}: cannot be decoded ({type(e).__name__})")
            continue
        values, counts = np.unique(arr, return_counts=True)
        pixel_counts.update({int(v): int(c) for v, c in zip(values, counts)})
        real = values[values != 255]
        if len(real):
            max_value = max(max_value, int(real.max()))
        if (values > 255).any():
            problems.add(f"{mk}: values above 255 (class ids are 0..254, 255 marks pixels to ignore)")
    if classes is not None:
        _classes_ok(classes, problems)
        if max_value >= len(classes):
            problems.add(f"masks use class id {max_value}, but {cls_file} names only {len(classes)} classes "
                         f"(0..{len(classes) - 1})")
    else:
        classes = ["background"] + [f"class_{i}" for i in range(1, max_value + 1)]
    if len(classes) < 2 and not problems:
        problems.add("the masks hold a single class: segmentation needs at least 2 (background and an object)")
    problems.raise_if_any()
    items: dict[str, list[dict]] = {}
    for k in pairs:
        items.setdefault(_split_from_key(k), []).append({"image": images[k], "mask": masks[k]})
    total = sum(pixel_counts.values())
    stats = {"splits": {s: {"pairs": len(rows)} for s, rows in items.items()},
             "pixel_share": {(classes[v] if v < len(classes) else "ignore"): round(c / total, 4)
                             for v, c in sorted(pixel_counts.items())},
             "image_size": checked.size_range()}
    manifest = {"splits": items, "ignore_index": 255 if 255 in pixel_counts else None}
    return Validated("segmentation", "masks", classes, stats, manifest)


def _text(root: Path, names: list[str], limits: Limits) -> Validated:
    problems = Problems()
    files = [n for n in names if _ext(n) in TEXT_EXTENSIONS]
    others = _docs_and_others(names, set(files))
    if others:
        problems.add(f"files other than the text tables: {_few(others)}")
    fmt = "jsonl" if all(_ext(n) == ".jsonl" for n in files) else "csv"
    if len({_ext(n) == ".jsonl" for n in files}) > 1:
        problems.add("mixed .csv and .jsonl files: use one format")
    split_of_file: dict[str, str | None] = {}
    if len(files) == 1:
        split_of_file[files[0]] = None
    else:
        for n in files:
            s = _split_of(PurePosixPath(n).stem)
            if s is None or s in split_of_file.values():
                problems.add(f"several text files: name them train/val/test, '{n}' does not"
                             if s is None else f"two files for the {s} split")
            split_of_file[n] = s
    rows: list[dict] = []
    for n, split in split_of_file.items():
        try:
            text = (root / n).read_bytes().decode("utf-8-sig")
        except UnicodeDecodeError as e:
            problems.add(f"{n}: not UTF-8 text (invalid byte at position {e.start})")
            continue
        reader = _jsonl_rows if _ext(n) == ".jsonl" else _csv_rows
        for no, rec in reader(n, text, problems, limits):
            t, lb = rec.get("text"), rec.get("label")
            rec_split = split or _split_of(str(rec.get("split") or "train")) or "bad"
            if rec_split == "bad":
                problems.add(f"{n} row {no}: split must be train, val or test")
                continue
            if not isinstance(t, str) or not t.strip():
                problems.add(f"{n} row {no}: empty text")
                continue
            if len(t) > limits.max_text_chars:
                problems.add(f"{n} row {no}: text longer than {limits.max_text_chars:,} characters")
                continue
            if isinstance(lb, (bool, dict, list)) or lb is None or not str(lb).strip():
                problems.add(f"{n} row {no}: missing label")
                continue
            lb = str(lb).strip()
            if len(lb) > MAX_LABEL_CHARS:
                problems.add(f"{n} row {no}: label longer than {MAX_LABEL_CHARS} characters")
                continue
            rows.append({"split": rec_split, "text": t.strip(), "label": lb})
            if len(rows) > limits.max_text_rows:
                problems.add(f"more than {limits.max_text_rows:,} rows")
                problems.raise_if_any()
    train = Counter(r["label"] for r in rows if r["split"] == "train")
    classes = sorted(train)
    if not problems:
        if len(classes) < 2:
            problems.add(f"text classification needs at least 2 labels, found {len(classes)}"
                         + (f" ({classes[0]})" if classes else ""))
        small = [f"{c} ({k})" for c, k in sorted(train.items()) if k < limits.min_per_class]
        if small:
            problems.add(f"labels with fewer than {limits.min_per_class} training rows: {_few(small, 5)}")
        unknown = sorted({r["label"] for r in rows} - set(classes))
        if unknown:
            problems.add(f"val/test rows with labels that the training rows lack: {_few(unknown)}")
    problems.raise_if_any()
    idx = {c: i for i, c in enumerate(classes)}
    out_rows = [{"split": r["split"], "text": r["text"], "label": idx[r["label"]]} for r in rows]
    splits: dict[str, Counter] = {}
    for r in rows:
        splits.setdefault(r["split"], Counter())[r["label"]] += 1
    stats = {"splits": {s: {"rows": sum(c.values()), "per_class": dict(sorted(c.items()))} for s, c in splits.items()},
             "mean_chars": round(sum(len(r["text"]) for r in rows) / max(len(rows), 1), 1)}
    return Validated("text_classification", fmt, classes, stats, {"rows_file": "texts.jsonl"}, rows=out_rows)


def _csv_rows(name: str, text: str, problems: Problems, limits: Limits):
    csv.field_size_limit(max(limits.max_text_chars * 4, 131072))
    delim = "\t" if _ext(name) == ".tsv" else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delim)
    try:
        header = next(reader)
    except (StopIteration, csv.Error):
        problems.add(f"{name}: empty file")
        return
    cols = [h.strip().lower() for h in header]
    missing = [c for c in ("text", "label") if c not in cols]
    if missing:
        problems.add(f"{name}: needs columns 'text' and 'label' (missing {', '.join(missing)}; found "
                     f"{_few([c[:30] for c in cols], 6) or 'none'})")
        return
    pos = {c: cols.index(c) for c in ("text", "label", "split") if c in cols}
    try:
        for no, row in enumerate(reader, 2):
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(cols):
                problems.add(f"{name} row {no}: {len(row)} cells, the header has {len(cols)}")
                continue
            yield no, {k: row[i] for k, i in pos.items()}
    except csv.Error as e:
        problems.add(f"{name}: malformed CSV ({str(e)[:80]})")


def _jsonl_rows(name: str, text: str, problems: Problems, limits: Limits):
    for no, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except (json.JSONDecodeError, RecursionError):
            problems.add(f"{name} line {no}: invalid JSON")
            continue
        if not isinstance(rec, dict):
            problems.add(f"{name} line {no}: expected an object with 'text' and 'label'")
            continue
        if "text" not in rec or "label" not in rec:
            problems.add(f"{name} line {no}: needs 'text' and 'label' keys")
            continue
        yield no, rec
