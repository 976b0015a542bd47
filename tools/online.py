"""Real datasets and models that are downloaded on first use (generic helper of the tools).

    Oxford-IIIT Pet   torchvision OxfordIIITPet: 37 breeds (classification, 3680 trainval /
                      3669 test images) and trimaps (segmentation: background, pet, border)
    Penn-Fudan        170 street photos, 345 pedestrians with instance masks (detection and
                      person/background segmentation), from the authors' site
    PASCAL VOC 2012   torchvision VOCDetection / VOCSegmentation: 20 classes (5717 train / 5823
                      val detection images, 1464 / 1449 segmentation), one 2 GB download
    IMDB, AG News,    Hugging Face `datasets`: stanfordnlp/imdb (2 classes, 25k/25k),
    RuSentiTweet      fancyzhx/ag_news (4 classes, 120k/7.6k), psytechlab/RuSentiTweet (Russian
                      tweets, 5 classes, 9.6k/1.1k/2.7k)
    models            any Hugging Face hub id, resolved with snapshot_download (never read as a
                      local path)

Downloads go to DATA_DIR/datasets/_downloads/<name>/ through a temporary folder that is
renamed when complete, so an interrupted or failed download leaves nothing half-written.
Without the network every loader raises MissingDataError naming the dataset, saying that it
needs the internet and what works offline instead; tools never fall back to other data.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path
from typing import Callable

import numpy as np

from tools.common import MissingDataError

PENN_FUDAN_URL = "https://www.cis.upenn.edu/~jshi/ped_html/PennFudanPed.zip"
VOC_CLASSES = ["aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow", "diningtable",
               "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train", "tvmonitor"]
HF_TEXT = {  # name -> (hub id, text column, label column, title)
    "imdb": ("stanfordnlp/imdb", "text", "label", "IMDB movie reviews"),
    "ag_news": ("fancyzhx/ag_news", "text", "label", "AG News"),
    "ru_sentiment": ("psytechlab/RuSentiTweet", "text", "label", "RuSentiTweet (Russian sentiment)"),
}
HF_SPLITS = {"train": "train", "validation": "val", "val": "val", "test": "test"}


def downloads_dir() -> Path:
    """DATA_DIR/datasets/_downloads: '_' never starts a registered dataset's name, so the two never meet."""
    from tutor.settings import get_settings

    d = Path(get_settings().data_dir) / "datasets" / "_downloads"
    d.mkdir(parents=True, exist_ok=True)
    return d


def offline_error(title: str, source: str, e: BaseException, hint: str) -> MissingDataError:
    return MissingDataError(f"dataset '{title}' needs the internet: it is downloaded from {source} on first use, and "
                            f"the download failed ({type(e).__name__}). Offline: {hint}")


def download_once(key: str, title: str, source: str, fetch: Callable[[Path], None], hint: str) -> Path:
    """The folder of a complete download of `key`; fetch(tmp) fills a temporary folder that is
    renamed into place only when it succeeded."""
    root = downloads_dir()
    final = root / key
    if (final / ".complete").exists():
        return final
    tmp = root / f".partial-{key}-{uuid.uuid4().hex}"
    try:
        tmp.mkdir(parents=True)
        fetch(tmp)
        (tmp / ".complete").touch()
    except Exception as e:
        shutil.rmtree(tmp, ignore_errors=True)
        raise offline_error(title, source, e, hint) from None
    except BaseException:  # cancelled mid-download (SIGTERM -> SystemExit): leave nothing behind either
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if final.exists() and not (final / ".complete").exists():
        shutil.rmtree(final, ignore_errors=True)
    try:
        os.rename(tmp, final)
    except OSError:  # another job finished the same download first
        shutil.rmtree(tmp, ignore_errors=True)
    return final


def _decode(fn, n: int) -> list:
    from tools.registered import decode_all

    return decode_all(fn, list(range(n)))


def _split_indices(n: int, seed: int, test_frac: float = 0.2) -> tuple[np.ndarray, np.ndarray]:
    order = np.random.default_rng(seed).permutation(n)
    k = int(round(n * test_frac))
    return np.sort(order[k:]), np.sort(order[:k])


def _cap(idx, n: int, seed: int):
    from tools.registered import cap

    return cap(list(idx), n, seed)


def _rgb(img, size: int) -> np.ndarray:
    from PIL import Image

    return np.asarray(img.convert("RGB").resize((size, size), Image.BILINEAR)).transpose(2, 0, 1)


def _ids(mask, size: int) -> np.ndarray:
    from PIL import Image

    return np.asarray(mask.resize((size, size), Image.NEAREST)).astype(np.int64)


# ---- Oxford-IIIT Pet -------------------------------------------------------------------------------

def _pets_root(hint: str) -> Path:
    import torchvision

    return download_once("oxford-iiit-pet", "Oxford-IIIT Pet", "www.robots.ox.ac.uk (torchvision OxfordIIITPet)",
                         lambda tmp: torchvision.datasets.OxfordIIITPet(str(tmp), download=True), hint)


def oxford_pets_classification(size: int, seed: int, max_items: int, hint: str):
    import torch
    import torchvision

    from tools.datasets import ImageData

    root = _pets_root(hint)
    out = []
    for split in ("trainval", "test"):
        ds = torchvision.datasets.OxfordIIITPet(str(root), split=split, target_types="category")
        idx = _cap(range(len(ds)), max_items, seed)
        rows = _decode(lambda i: (lambda s: (_rgb(s[0], size), s[1]))(ds[idx[i]]), len(idx))
        out += [torch.from_numpy(np.stack([r[0] for r in rows])), torch.tensor([r[1] for r in rows])]
    return ImageData(*out, list(ds.classes))


def oxford_pets_segmentation(size: int, seed: int, max_items: int, hint: str):
    """Trimaps 1 = pet, 2 = background, 3 = border -> ids 1, 0, 2."""
    import torch
    import torchvision

    from tools.registered import SegmentationData

    root = _pets_root(hint)
    remap = np.array([0, 1, 0, 2], np.int64)
    out = []
    for split in ("trainval", "test"):
        ds = torchvision.datasets.OxfordIIITPet(str(root), split=split, target_types="segmentation")
        idx = _cap(range(len(ds)), max_items, seed)
        rows = _decode(lambda i: (lambda s: (_rgb(s[0], size), remap[_ids(s[1], size)]))(ds[idx[i]]), len(idx))
        out += [torch.from_numpy(np.stack([r[0] for r in rows])), torch.from_numpy(np.stack([r[1] for r in rows]))]
    return SegmentationData(*out, ["background", "pet", "border"], None)


# ---- Penn-Fudan ----------------------------------------------------------------------------------------

def _penn_fudan(size: int, seed: int, max_items: int, hint: str):
    from PIL import Image
    from torchvision.datasets.utils import download_and_extract_archive

    from tools.registered import scale_boxes

    root = download_once("penn-fudan", "Penn-Fudan pedestrians", "www.cis.upenn.edu",
                         lambda tmp: download_and_extract_archive(PENN_FUDAN_URL, download_root=str(tmp)), hint)
    base = root / "PennFudanPed"
    images = sorted((base / "PNGImages").glob("*.png"))
    if not images:
        raise MissingDataError("the Penn-Fudan download holds no images; delete it to download again")

    def one(path: Path):
        with Image.open(path) as img, Image.open(base / "PedMasks" / f"{path.stem}_mask.png") as m:
            inst = np.asarray(m).astype(np.int64)  # 0 = background, k = k-th pedestrian
            w, h = img.size
            boxes = []
            for k in np.unique(inst)[1:]:
                ys, xs = np.nonzero(inst == k)
                boxes.append([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1])
            return _rgb(img, size), _ids(Image.fromarray((inst > 0).astype(np.uint8)), size), scale_boxes(boxes, w, h, size)

    tr, te = _split_indices(len(images), seed)
    parts = []
    for idx in (_cap(tr, max_items, seed), _cap(te, max_items, seed)):
        parts.append(_decode(lambda i: one(images[idx[i]]), len(idx)))
    return parts


def penn_fudan_detection(size: int, seed: int, max_items: int, hint: str):
    import torch

    from tools.registered import DetectionData

    out = []
    for rows in _penn_fudan(size, seed, max_items, hint):
        out += [torch.from_numpy(np.stack([r[0] for r in rows])), [r[2] for r in rows],
                [np.zeros(len(r[2]), np.int64) for r in rows]]
    return DetectionData(*out, ["person"])


def penn_fudan_segmentation(size: int, seed: int, max_items: int, hint: str):
    import torch

    from tools.registered import SegmentationData

    out = []
    for rows in _penn_fudan(size, seed, max_items, hint):
        out += [torch.from_numpy(np.stack([r[0] for r in rows])), torch.from_numpy(np.stack([r[1] for r in rows]))]
    return SegmentationData(*out, ["background", "person"], None)


# ---- PASCAL VOC 2012 ------------------------------------------------------------------------------------

def _voc_root(hint: str) -> Path:
    import torchvision

    return download_once("voc2012", "PASCAL VOC 2012", "host.robots.ox.ac.uk (torchvision VOC, 2 GB)",
                         lambda tmp: torchvision.datasets.VOCDetection(str(tmp), year="2012", image_set="train",
                                                                       download=True), hint)


def voc_detection(size: int, seed: int, max_items: int, hint: str):
    import torch
    import torchvision

    from tools.registered import DetectionData, scale_boxes

    root = _voc_root(hint)
    out = []
    for split in ("train", "val"):
        ds = torchvision.datasets.VOCDetection(str(root), year="2012", image_set=split)
        idx = _cap(range(len(ds)), max_items, seed)

        def one(i):
            img, target = ds[idx[i]]
            objs = [o for o in target["annotation"]["object"] if o.get("difficult", "0") != "1"]
            boxes = [[float(o["bndbox"][k]) for k in ("xmin", "ymin", "xmax", "ymax")] for o in objs]
            boxes = [[x1 - 1, y1 - 1, x2, y2] for x1, y1, x2, y2 in boxes]  # VOC pixels are 1-based, inclusive
            labels = np.asarray([VOC_CLASSES.index(o["name"]) for o in objs], np.int64)
            return _rgb(img, size), scale_boxes(boxes, img.width, img.height, size), labels

        rows = _decode(one, len(idx))
        out += [torch.from_numpy(np.stack([r[0] for r in rows])), [r[1] for r in rows], [r[2] for r in rows]]
    return DetectionData(*out, VOC_CLASSES)


def voc_segmentation(size: int, seed: int, max_items: int, hint: str):
    import torch
    import torchvision

    from tools.registered import SegmentationData

    root = _voc_root(hint)
    out = []
    for split in ("train", "val"):
        ds = torchvision.datasets.VOCSegmentation(str(root), year="2012", image_set=split)
        idx = _cap(range(len(ds)), max_items, seed)
        rows = _decode(lambda i: (lambda s: (_rgb(s[0], size), _ids(s[1], size)))(ds[idx[i]]), len(idx))
        out += [torch.from_numpy(np.stack([r[0] for r in rows])), torch.from_numpy(np.stack([r[1] for r in rows]))]
    return SegmentationData(*out, ["background", *VOC_CLASSES], 255)


# ---- Hugging Face text -------------------------------------------------------------------------------------

def hf_text(name: str, seed: int, max_items: int, hint: str):
    """IMDB / AG News / RuSentiTweet -> tools.textdata.TextData."""
    from tools.registered import cap, three_way
    from tools.textdata import TextData

    hub_id, text_col, label_col, title = HF_TEXT[name]
    cache = downloads_dir() / "hf"
    existed = cache.exists()
    cache.mkdir(parents=True, exist_ok=True)
    before = set(os.listdir(cache))
    try:
        import datasets

        dsd = datasets.load_dataset(hub_id, cache_dir=str(cache))
    except Exception as e:
        for leftover in set(os.listdir(cache)) - before:  # a failed download leaves no partial files
            p = cache / leftover
            shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)
        if not existed:
            shutil.rmtree(cache, ignore_errors=True)
        raise offline_error(title, f"the Hugging Face hub ({hub_id})", e, hint) from None
    feature = dsd["train"].features[label_col]
    if hasattr(feature, "names"):
        classes = list(feature.names)
        to_index = int
    else:  # labels stored as strings
        classes = sorted({str(v) for v in dsd["train"][label_col]})
        to_index = {c: i for i, c in enumerate(classes)}.__getitem__
    splits: dict[str, list] = {}
    for split, part in dsd.items():
        if split not in HF_SPLITS:
            continue  # e.g. IMDB's unlabelled 'unsupervised' split
        rows = [(t, to_index(lb if hasattr(feature, "names") else str(lb)))
                for t, lb in zip(part[text_col], part[label_col])]
        splits[HF_SPLITS[split]] = cap(rows, max_items, seed)
    train, val, test = three_way(splits, seed, key=lambda r: r[1])
    return TextData(train, val, test, classes)


# ---- Hugging Face models -------------------------------------------------------------------------------------

def hf_snapshot(repo_id: str, hint: str, weights: bool = True) -> Path:
    """A local copy of a hub model, downloaded by id only: snapshot_download never reads
    `repo_id` as a folder, so a job config cannot point transformers at a server path."""
    from huggingface_hub import snapshot_download

    patterns = ["*.json", "*.txt", "*.model", "tokenizer*", "vocab*", "merges*", "spiece*"]
    if weights:
        patterns += ["*.safetensors"]
    try:
        folder = Path(snapshot_download(repo_id=repo_id, allow_patterns=patterns))
        if weights and not any(folder.glob("*.safetensors")):  # older repos ship PyTorch pickles only
            folder = Path(snapshot_download(repo_id=repo_id, allow_patterns=patterns + ["pytorch_model*.bin"]))
        return folder
    except Exception as e:
        raise MissingDataError(f"model '{repo_id}' must be downloaded from the Hugging Face hub and that failed "
                               f"({type(e).__name__}: not on the hub, or no internet). Offline: {hint}") from None
