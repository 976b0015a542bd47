"""Semantic segmentation with a U-Net (lecture: «Сегментация», corpus/lectures/09_segmentation.md).

The encoder halves the resolution and doubles the channels at each level; the decoder
upsamples with transposed convolutions and concatenates the encoder's feature map of the
same size (skip connections) so fine boundaries survive. Data: generated canvases with
exact masks (tools/synthetic.py). Loss: pixel cross-entropy + soft Dice.
Metrics: `miou` = mean IoU over ALL classes including background; `miou_objects`
excludes background; `dice` = mean Dice over object classes; `pixel_accuracy`.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from pydantic import Field

from tools.common import (Progress, RunDir, Started, ToolConfig, autocast, finish, null_emit, pick_device, plot_history,
                          plt_figure, seed_everything)
from tools.synthetic import CLASSES, make_canvases

NAMES = ["background", *CLASSES]


class Config(ToolConfig):
    epochs: int = Field(4, ge=1, le=500, description="Passes over the training canvases.")
    lr: float = Field(3e-3, gt=0, le=1.0, description="AdamW learning rate (one-cycle schedule).")
    batch_size: int = Field(32, ge=2, le=4096, description="Canvases per step.")
    n_train: int = Field(800, ge=32, le=1_000_000, description="Generated training canvases.")
    n_test: int = Field(300, ge=16, le=100_000, description="Generated test canvases (another seed).")
    image_size: int = Field(48, ge=32, le=512, description="Canvas side in pixels (multiple of 8).")
    base_channels: int = Field(16, ge=4, le=256, description="Channels of the first U-Net level.")
    depth: int = Field(2, ge=1, le=5, description="Down/up-sampling levels of the U-Net.")
    dice_weight: float = Field(0.5, ge=0.0, le=10.0, description="Weight of the soft Dice loss next to CE.")


PRESETS = {
    "smoke": {"epochs": 1, "n_train": 128, "n_test": 32, "base_channels": 8},
    "quick": {},
    "full": {"epochs": 40, "n_train": 20000, "n_test": 2000, "image_size": 96, "base_channels": 32, "depth": 3,
             "batch_size": 64},
}


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


def confusion(pred: np.ndarray, true: np.ndarray, k: int) -> np.ndarray:
    return np.bincount(true.ravel() * k + pred.ravel(), minlength=k * k).reshape(k, k)


def iou_dice(cm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-class IoU = TP/(TP+FP+FN) and Dice = 2TP/(2TP+FP+FN); NaN for absent classes."""
    tp = np.diag(cm).astype(float)
    fp, fn = cm.sum(0) - tp, cm.sum(1) - tp
    with np.errstate(invalid="ignore", divide="ignore"):
        return tp / (tp + fp + fn), 2 * tp / (2 * tp + fp + fn)


def soft_dice_loss(logits, target, k: int):
    import torch

    p = torch.softmax(logits.float(), 1)
    onehot = torch.nn.functional.one_hot(target, k).permute(0, 3, 1, 2).float()  # (B,H,W,K) -> (B,K,H,W)
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
    tr = make_canvases(cfg.n_train, size, seed=cfg.seed)
    te = make_canvases(cfg.n_test, size, seed=cfg.seed + 1_000_003)
    x_tr, y_tr = torch.from_numpy(tr.images).to(device), torch.from_numpy(tr.masks).to(device)
    x_te, y_te = torch.from_numpy(te.images).to(device), torch.from_numpy(te.masks).to(device)
    k = len(NAMES)
    model = build_unet(1, k, cfg.base_channels, cfg.depth).to(device)
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
                out.append(model(x[i:i + 64]).float().argmax(1))
        return torch.cat(out)

    for epoch in range(1, cfg.epochs + 1):
        model.train()
        order = torch.randperm(len(x_tr), generator=gen).to(device)
        tot = torch.zeros((), device=device)  # summed on the device: no GPU sync per step
        for i in range(0, len(x_tr), cfg.batch_size):
            idx = order[i:i + cfg.batch_size]
            xb, yb = x_tr[idx], y_tr[idx]
            if torch.rand(1, generator=gen).item() < 0.5:  # flips keep masks aligned: flip both
                xb, yb = xb.flip(-1), yb.flip(-1)
            with autocast(device):
                logits = model(xb)
            loss = F.cross_entropy(logits.float(), yb) + cfg.dice_weight * soft_dice_loss(logits, yb, k)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            tot += loss.detach() * len(idx)
        iou, _ = iou_dice(confusion(predict(x_te).cpu().numpy(), te.masks, k))
        m = {"epoch": float(epoch), "train_loss": tot.item() / len(x_tr), "val_miou": float(np.nanmean(iou))}
        history.append(m)
        emit(Progress(step=epoch, total=cfg.epochs, unit="epoch", metrics={"train_loss": m["train_loss"], "val_miou": m["val_miou"]}))

    pred = predict(x_te).cpu().numpy()
    cm = confusion(pred, te.masks, k)
    iou, dice = iou_dice(cm)
    metrics = {"miou": float(np.nanmean(iou)), "miou_objects": float(np.nanmean(iou[1:])),
               "dice": float(np.nanmean(dice[1:])), "pixel_accuracy": float(np.trace(cm) / cm.sum()),
               **{f"iou_{n}": float(v) for n, v in zip(NAMES, iou)}}
    rd.save_figure("learning_curves.png", plot_history(history, {"loss": ["train_loss"], "mIoU": ["val_miou"]}))
    fig, axes = plt_figure(3, 6, figsize=(12, 6.4))
    for j in range(6):
        axes[0, j].imshow(te.images[j, 0], cmap="gray", vmin=0, vmax=1)
        axes[1, j].imshow(te.masks[j], cmap="tab10", vmin=0, vmax=9, interpolation="nearest")
        axes[2, j].imshow(te.images[j, 0], cmap="gray", vmin=0, vmax=1)
        axes[2, j].imshow(np.ma.masked_equal(pred[j], 0), cmap="tab10", vmin=0, vmax=9, alpha=0.6, interpolation="nearest")
        for r in range(3):
            axes[r, j].axis("off")
    axes[0, 0].set_title("image", loc="left")
    axes[1, 0].set_title("ground truth", loc="left")
    axes[2, 0].set_title(f"prediction (mIoU {metrics['miou']:.3f})", loc="left")
    rd.save_figure("overlay.png", fig)
    rd.save_checkpoint("model.pt", {"state_dict": model.state_dict(), "config": cfg.model_dump(), "classes": NAMES,
                                    "image_size": size})
    return finish("segmentation", cfg, emit, rd, metrics, history, device, t0)


def _image_tensor(inputs, size: int):
    import torch
    from PIL import Image

    img = Image.open(inputs) if isinstance(inputs, (str, Path)) else (
        Image.fromarray(np.asarray(inputs).astype(np.uint8)) if isinstance(inputs, np.ndarray) else inputs)
    arr = np.asarray(img.convert("L").resize((size, size)), dtype=np.float32) / 255.0
    return torch.from_numpy(arr)[None, None], arr  # (1, 1, H, W)


def infer(checkpoint: str | Path, inputs, out_dir: str | Path | None = None) -> dict:
    """image -> {"classes_present", "pixel_fractions", "image": overlay png}."""
    import torch

    ck = torch.load(checkpoint, map_location="cpu", weights_only=False)
    cfg = Config(**ck["config"])
    model = build_unet(1, len(ck["classes"]), cfg.base_channels, cfg.depth)
    model.load_state_dict(ck["state_dict"])
    x, arr = _image_tensor(inputs, ck["image_size"])
    with torch.no_grad():
        pred = model.eval()(x).argmax(1)[0].numpy()
    fr = {ck["classes"][c]: float((pred == c).mean()) for c in range(len(ck["classes"]))}
    out = Path(out_dir or ".")
    out.mkdir(parents=True, exist_ok=True)
    fig, axes = plt_figure(1, 2, figsize=(6, 3))
    axes[0].imshow(arr, cmap="gray")
    axes[1].imshow(arr, cmap="gray")
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

    size = cfg.image_size - cfg.image_size % (2 ** cfg.depth)
    bs = min(cfg.batch_size, cfg.n_train)
    m = measure(lambda: build_unet(1, len(CLASSES), cfg.base_channels, cfg.depth), lambda: (torch.empty(bs, 1, size, size),))
    data = (cfg.n_train + cfg.n_test) * size * size * (4 + 8)  # float image + int64 mask
    return training_cost(m, steps_for(cfg.n_train, bs, cfg.epochs), CPU_FLOPS, data_bytes=data, fixed_cpu_s=2.0,
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
