"""Semantic segmentation with a U-Net (lecture: «Сегментация», corpus/lectures/09_segmentation.md).

The encoder halves the resolution and doubles the channels at each level; the decoder
upsamples with transposed convolutions and concatenates the encoder's feature map of the
same size (skip connections) so fine boundaries survive. Loss: pixel cross-entropy + soft
Dice. Data: generated canvases with exact masks (tools/synthetic.py, default); image+mask
pairs registered by the course staff (`dataset_name=NAME`, tools/registered.py); online
Oxford-IIIT Pet trimaps, Penn-Fudan pedestrians or PASCAL VOC 2012 (tools/online.py).
Pixels marked 255 in a mask (VOC's object borders) are left out of the loss and metrics.
Presets: `finetune` (CPU: 96 px, at most 1000 pairs, minutes) / `finetune_gpu` for
registered data, `pets`, `pets_gpu`, `pennfudan`, `pennfudan_gpu`, `voc`, `voc_gpu`.
Metrics: `miou` = mean IoU over ALL classes including background; `miou_objects`
excludes background; `dice` = mean Dice over object classes; `pixel_accuracy`.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import Field, model_validator

from tools import registered
from tools.common import (Progress, RunDir, Started, ToolConfig, autocast, finish, null_emit, pick_device, plot_history,
                          plt_figure, seed_everything)
from tools.synthetic import CLASSES, make_canvases

NAMES = ["background", *CLASSES]
REGISTERED_KIND = "segmentation"
OFFLINE_HINT = "use dataset=canvases, or image+mask pairs registered by the course staff (dataset_name=NAME, " \
               "GET /v1/datasets)"


class Config(ToolConfig):
    dataset: Literal["canvases", "registered", "oxford_pets", "penn_fudan", "voc"] = Field(
        "canvases", description="canvases: generated shapes (offline); registered: image+mask pairs registered by the "
                                "course staff, named by dataset_name; oxford_pets (trimaps), penn_fudan, voc: "
                                "downloaded.")
    dataset_name: str | None = registered.name_field()
    epochs: int = Field(4, ge=1, le=500, description="Passes over the training images.")
    lr: float = Field(3e-3, gt=0, le=1.0, description="AdamW learning rate (one-cycle schedule).")
    batch_size: int = Field(32, ge=2, le=4096, description="Images per step.")
    n_train: int = Field(800, ge=32, le=1_000_000, description="canvases: generated training canvases.")
    n_test: int = Field(300, ge=16, le=100_000, description="canvases: generated test canvases (another seed).")
    max_images: int = Field(0, ge=0, le=10_000_000, description="Real datasets: at most this many images per split "
                                                                "(0 = all); CPU presets train on a subset.")
    image_size: int = Field(48, ge=32, le=1024, description="Canvas side, or the square size real images are resized "
                                                            "to (multiple of 2^depth).")
    base_channels: int = Field(16, ge=4, le=256, description="Channels of the first U-Net level.")
    depth: int = Field(2, ge=1, le=5, description="Down/up-sampling levels of the U-Net.")
    dice_weight: float = Field(0.5, ge=0.0, le=10.0, description="Weight of the soft Dice loss next to CE.")

    @model_validator(mode="before")
    @classmethod
    def _dataset_name_implies_registered(cls, data):
        return registered.default_to_registered(data)

    @model_validator(mode="after")
    def _registered_needs_name(self):
        return registered.check_choice(self)


_REAL_CPU = {"image_size": 96, "depth": 3, "base_channels": 16, "epochs": 8, "batch_size": 16, "max_images": 1000}
_REAL_GPU = {"image_size": 256, "depth": 4, "base_channels": 32, "epochs": 40, "batch_size": 32, "max_images": 0,
             "lr": 2e-3}
PRESETS = {
    "smoke": {"epochs": 1, "n_train": 128, "n_test": 32, "base_channels": 8},
    "quick": {},
    "full": {"epochs": 40, "n_train": 20000, "n_test": 2000, "image_size": 96, "base_channels": 32, "depth": 3,
             "batch_size": 64},
    # registered image+mask pairs: add dataset_name=NAME
    "finetune": _REAL_CPU,
    "finetune_gpu": _REAL_GPU,
    "pets": {**_REAL_CPU, "dataset": "oxford_pets", "epochs": 4},
    "pets_gpu": {**_REAL_GPU, "dataset": "oxford_pets"},
    "pennfudan": {**_REAL_CPU, "dataset": "penn_fudan", "image_size": 128, "epochs": 15, "batch_size": 8},
    "pennfudan_gpu": {**_REAL_GPU, "dataset": "penn_fudan", "image_size": 384, "epochs": 60, "batch_size": 16},
    "voc": {**_REAL_CPU, "dataset": "voc", "image_size": 128, "epochs": 4},
    "voc_gpu": {**_REAL_GPU, "dataset": "voc", "image_size": 320, "epochs": 60},
}


# ---- data ------------------------------------------------------------------------------------------------

def load(cfg: Config, size: int) -> registered.SegmentationData:
    """Images (N, C, S, S) — float in [0, 1] for canvases, uint8 for photos — and (N, S, S) class ids."""
    import torch

    if cfg.dataset == "canvases":
        tr = make_canvases(cfg.n_train, size, seed=cfg.seed)
        te = make_canvases(cfg.n_test, size, seed=cfg.seed + 1_000_003)
        return registered.SegmentationData(torch.from_numpy(tr.images), torch.from_numpy(tr.masks),
                                           torch.from_numpy(te.images), torch.from_numpy(te.masks), list(NAMES), None)
    if cfg.dataset == "registered":
        return registered.load_segmentation(cfg.dataset_name, size, cfg.seed, cfg.max_images)
    from tools import online

    fn = {"oxford_pets": online.oxford_pets_segmentation, "penn_fudan": online.penn_fudan_segmentation,
          "voc": online.voc_segmentation}[cfg.dataset]
    return fn(size, cfg.seed, cfg.max_images, OFFLINE_HINT)


def as_float(x):
    """A batch as float in [0, 1] (photos stay uint8 on the device until used: 4x less memory)."""
    return x if x.is_floating_point() else x.float() / 255.0


# ---- model -----------------------------------------------------------------------------------------------

def build_unet(in_ch: int, n_classes: int, c: int, depth: int):
    import torch
    import torch.nn as nn

    def conv(i, o):
        return nn.Sequential(nn.Conv2d(i, o, 3, padding=1, bias=False), nn.BatchNorm2d(o), nn.ReLU(inplace=True),
                             nn.Conv2d(o, o, 3, padding=1, bias=False), nn.BatchNorm2d(o), nn.ReLU(inplace=True))

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            chans = [c * 2 ** i for i in range(depth + 1)]
            self.down = nn.ModuleList([conv(in_ch, chans[0])] + [conv(chans[i], chans[i + 1]) for i in range(depth)])
            self.up = nn.ModuleList([nn.ConvTranspose2d(chans[i + 1], chans[i], 2, stride=2) for i in reversed(range(depth))])
            self.dec = nn.ModuleList([conv(2 * chans[i], chans[i]) for i in reversed(range(depth))])
            self.head = nn.Conv2d(chans[0], n_classes, 1)

        def forward(self, x):
            skips = []
            for i, block in enumerate(self.down):
                x = block(x if i == 0 else nn.functional.max_pool2d(x, 2))
                skips.append(x)
            x = skips.pop()  # bottleneck
            for up, dec in zip(self.up, self.dec):
                x = up(x)  # (B, C, h, w) -> (B, C/2, 2h, 2w)
                x = dec(torch.cat([x, skips.pop()], 1))  # skip connection: concat channels
            return self.head(x)  # (B, n_classes, H, W) logits

    return Net()


def confusion(pred: np.ndarray, true: np.ndarray, k: int, ignore: int | None = None) -> np.ndarray:
    if ignore is not None:
        keep = true != ignore
        pred, true = pred[keep], true[keep]
    return np.bincount(true.ravel() * k + pred.ravel(), minlength=k * k).reshape(k, k)


def iou_dice(cm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-class IoU = TP/(TP+FP+FN) and Dice = 2TP/(2TP+FP+FN); NaN for absent classes."""
    tp = np.diag(cm).astype(float)
    fp, fn = cm.sum(0) - tp, cm.sum(1) - tp
    with np.errstate(invalid="ignore", divide="ignore"):
        return tp / (tp + fp + fn), 2 * tp / (2 * tp + fp + fn)


def soft_dice_loss(logits, target, k: int, ignore: int | None = None):
    import torch

    p = torch.softmax(logits.float(), 1)
    if ignore is not None:  # ignored pixels count for no class
        valid = (target != ignore).unsqueeze(1).float()
        p, target = p * valid, target.masked_fill(target == ignore, 0)
    onehot = torch.nn.functional.one_hot(target, k).permute(0, 3, 1, 2).float()  # (B,H,W,K) -> (B,K,H,W)
    if ignore is not None:
        onehot = onehot * valid
    inter = (p * onehot).sum((0, 2, 3))
    denom = p.sum((0, 2, 3)) + onehot.sum((0, 2, 3))
    return 1 - ((2 * inter + 1) / (denom + 1)).mean()


def run(cfg: Config, emit=null_emit, out_dir: str | Path | None = None):
    import torch
    import torch.nn.functional as F

    t0 = time.perf_counter()
    seed_everything(cfg.seed)
    device = pick_device(cfg.device)
    rd = RunDir(out_dir, "segmentation", emit)
    emit(Started(tool="segmentation", config=cfg.model_dump(), device=str(device), total_steps=cfg.epochs))
    size = cfg.image_size - cfg.image_size % (2 ** cfg.depth)
    data = load(cfg, size)
    names, ignore = data.classes, data.ignore_index
    x_tr, y_tr = data.x_train.to(device), data.y_train.to(device)
    x_te, y_te_np = data.x_test.to(device), data.y_test.numpy()
    k = len(names)
    model = build_unet(x_tr.shape[1], k, cfg.base_channels, cfg.depth).to(device)
    if device.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=1e-4)
    spe = (len(x_tr) + cfg.batch_size - 1) // cfg.batch_size
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=cfg.epochs * spe)
    gen = torch.Generator().manual_seed(cfg.seed)
    history = []

    def predict(x):
        model.eval()
        out = []
        with torch.no_grad(), autocast(device):
            for i in range(0, len(x), 64):
                out.append(model(as_float(x[i:i + 64])).float().argmax(1))
        return torch.cat(out)

    for epoch in range(1, cfg.epochs + 1):
        model.train()
        order = torch.randperm(len(x_tr), generator=gen).to(device)
        tot = torch.zeros((), device=device)  # summed on the device: no GPU sync per step
        for i in range(0, len(x_tr), cfg.batch_size):
            idx = order[i:i + cfg.batch_size]
            xb, yb = as_float(x_tr[idx]), y_tr[idx]
            if torch.rand(1, generator=gen).item() < 0.5:  # flips keep masks aligned: flip both
                xb, yb = xb.flip(-1), yb.flip(-1)
            with autocast(device):
                logits = model(xb)
            loss = (F.cross_entropy(logits.float(), yb, ignore_index=-100 if ignore is None else ignore)
                    + cfg.dice_weight * soft_dice_loss(logits, yb, k, ignore))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            tot += loss.detach() * len(idx)
        iou, _ = iou_dice(confusion(predict(x_te).cpu().numpy(), y_te_np, k, ignore))
        m = {"epoch": float(epoch), "train_loss": tot.item() / len(x_tr), "val_miou": float(np.nanmean(iou))}
        history.append(m)
        emit(Progress(step=epoch, total=cfg.epochs, unit="epoch", metrics={"train_loss": m["train_loss"], "val_miou": m["val_miou"]}))

    pred = predict(x_te).cpu().numpy()
    cm = confusion(pred, y_te_np, k, ignore)
    iou, dice = iou_dice(cm)
    metrics = {"miou": float(np.nanmean(iou)), "miou_objects": float(np.nanmean(iou[1:])),
               "dice": float(np.nanmean(dice[1:])), "pixel_accuracy": float(np.trace(cm) / max(cm.sum(), 1)),
               **{"iou_" + re.sub(r"\W+", "_", n).strip("_").lower(): float(v) for n, v in zip(names, iou)}}
    rd.save_figure("learning_curves.png", plot_history(history, {"loss": ["train_loss"], "mIoU": ["val_miou"]}))
    cmap, vmax = ("tab10", 9) if k <= 10 else ("tab20", 19)
    fig, axes = plt_figure(3, 6, figsize=(12, 6.4))
    for r in range(3):
        for j in range(6):
            axes[r, j].axis("off")
    for j in range(min(6, len(pred))):
        img = as_float(data.x_test[j]).permute(1, 2, 0).numpy()
        img = img.squeeze(-1) if img.shape[-1] == 1 else img
        truth = np.ma.masked_equal(y_te_np[j], ignore) if ignore is not None else y_te_np[j]
        axes[0, j].imshow(img, cmap="gray", vmin=0, vmax=1)
        axes[1, j].imshow(truth, cmap=cmap, vmin=0, vmax=vmax, interpolation="nearest")
        axes[2, j].imshow(img, cmap="gray", vmin=0, vmax=1)
        axes[2, j].imshow(np.ma.masked_equal(pred[j], 0), cmap=cmap, vmin=0, vmax=vmax, alpha=0.6,
                          interpolation="nearest")
    axes[0, 0].set_title("image", loc="left")
    axes[1, 0].set_title("ground truth", loc="left")
    axes[2, 0].set_title(f"prediction (mIoU {metrics['miou']:.3f})", loc="left")
    rd.save_figure("overlay.png", fig)
    rd.save_checkpoint("model.pt", {"state_dict": model.state_dict(), "config": cfg.model_dump(), "classes": names,
                                    "image_size": size, "in_channels": int(x_tr.shape[1])})
    return finish("segmentation", cfg, emit, rd, metrics, history, device, t0)


def _image_tensor(inputs, size: int, channels: int = 1):
    """image (path / PIL / array) -> ((1, C, S, S) float tensor in [0, 1], the (S, S[, 3]) array shown)."""
    import torch
    from PIL import Image

    img = Image.open(inputs) if isinstance(inputs, (str, Path)) else (
        Image.fromarray(np.asarray(inputs).astype(np.uint8)) if isinstance(inputs, np.ndarray) else inputs)
    arr = np.asarray(img.convert("L" if channels == 1 else "RGB").resize((size, size)), dtype=np.float32) / 255.0
    x = torch.from_numpy(arr)[None, None] if channels == 1 else torch.from_numpy(arr).permute(2, 0, 1)[None]
    return x, arr


def infer(checkpoint: str | Path, inputs, out_dir: str | Path | None = None) -> dict:
    """image -> {"classes_present", "pixel_fractions", "image": overlay png}."""
    import torch

    ck = torch.load(checkpoint, map_location="cpu", weights_only=False)
    cfg = Config(**ck["config"])
    in_ch = ck.get("in_channels", 1)
    model = build_unet(in_ch, len(ck["classes"]), cfg.base_channels, cfg.depth)
    model.load_state_dict(ck["state_dict"])
    x, arr = _image_tensor(inputs, ck["image_size"], in_ch)
    with torch.no_grad():
        pred = model.eval()(x).argmax(1)[0].numpy()
    fr = {ck["classes"][c]: float((pred == c).mean()) for c in range(len(ck["classes"]))}
    out = Path(out_dir or ".")
    out.mkdir(parents=True, exist_ok=True)
    fig, axes = plt_figure(1, 2, figsize=(6, 3))
    axes[0].imshow(arr, cmap="gray" if arr.ndim == 2 else None)
    axes[1].imshow(arr, cmap="gray" if arr.ndim == 2 else None)
    axes[1].imshow(np.ma.masked_equal(pred, 0), cmap="tab10", vmin=0, vmax=9, alpha=0.6, interpolation="nearest")
    for a in axes:
        a.axis("off")
    path = out / f"segmentation-{int(time.time() * 1000)}.png"
    fig.savefig(path, dpi=110, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return {"classes_present": [c for c, f in fr.items() if f > 0 and c != "background"], "pixel_fractions": fr,
            "image": str(path)}


# ---- spec: what the rest of the tutor knows about this tool ---------------------------------------------

from tools.cost import cached as cost_cached, measure, steps_for, training_cost  # noqa: E402
from tools.spec import Cost, Metric, ParamWord, ToolSpec, Upload  # noqa: E402

# effective FLOP/s of a training step on the 2-core reference machine, fitted to bench/experiments.py (quick: 15 s)
CPU_FLOPS = 1e11


@cost_cached
def estimate(cfg: Config) -> Cost:
    import torch

    from tools.registered import ONLINE_SIZES, train_size

    size = cfg.image_size - cfg.image_size % (2 ** cfg.depth)
    canvases = cfg.dataset == "canvases"
    sizes = {**ONLINE_SIZES, "voc": 1464}  # VOC's segmentation split is smaller than its detection one
    n_train = cfg.n_train if canvases else min(train_size(cfg.dataset, cfg.dataset_name, cfg.max_images,
                                                          default=sizes.get(cfg.dataset, 2000)),
                                               cfg.max_images or 10**9)
    n_test = cfg.n_test if canvases else max(16, n_train // 4)
    in_ch, bs = (1 if canvases else 3), min(cfg.batch_size, n_train)
    m = measure(lambda: build_unet(in_ch, 21, cfg.base_channels, cfg.depth), lambda: (torch.empty(bs, in_ch, size, size),))
    data = (n_train + n_test) * size * size * (4 * in_ch + 8)  # float image + int64 mask
    return training_cost(m, steps_for(n_train, bs, cfg.epochs), CPU_FLOPS, data_bytes=data, fixed_cpu_s=2.0,
                         eval_share=0.3)


def next_step(result: dict, found, lang: str) -> str | None:
    cfg = result.get("config") or {}
    if (result.get("metrics") or {}).get("miou", 0) < 0.75:
        return f"/run segmentation epochs={min(500, int(cfg.get('epochs', 4)) * 2)}"
    return f"/run segmentation depth={min(5, int(cfg.get('depth', 2)) + 1)} dice_weight=1.0"


def describe_prediction(pred: dict, lang: str) -> str:
    items = ", ".join(f"{k}: {v:.1%}" for k, v in (pred.get("pixel_fractions") or {}).items()) or "—"
    return f"Маска сегментации (доли пикселей): {items}." if lang == "ru" else f"Segmentation mask (pixel shares): {items}."


SPEC = ToolSpec(
    name="segmentation",
    summary="Semantic segmentation with a U-Net on generated canvases; Dice/IoU metrics and mask overlays.",
    summary_ru="Семантическая сегментация U-Net на сгенерированных изображениях: метрики IoU/Dice и маски.",
    theory_query="семантическая сегментация U-Net skip connections IoU Dice",
    lectures=("lectures/09_segmentation.md",),
    mentions=(r"сегментац|сегментир|сегментн", r"segment", r"u-?net\b|юнет", r"\bmiou\b|\bdice\b"),
    words=(ParamWord("depth", r"(?:глубин\w*|depth)\s*[:=]?\s*(\d+)"),
           ParamWord("dice_weight", r"(?:вес\w* dice|dice.?weight)\s*[:=]?\s*(\d+(?:[.,]\d+)?)"),
           ParamWord("image_size", r"(\d+)\s*(?:px|пикс\w*)")),
    metrics={None: Metric("miou", True, 0.75, "mIoU", "mIoU")},
    estimate=estimate,
    upload=Upload.IMAGE,
    upload_words=(r"сегмент|segment|маск|mask",),
    next_step=next_step,
    describe_prediction=describe_prediction,
    short_keys=("epochs", "lr", "batch_size", "base_channels", "depth", "dice_weight", "device"),
)
