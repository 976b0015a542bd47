"""Object detection with a compact anchor-free detector (lecture: «Детекция объектов»,
corpus/lectures/08_detection.md).

CenterNet idea: a stride-4 feature map predicts, per class, a heatmap whose peaks are
object centres, plus the box size (w, h) and the sub-cell offset of the centre. Peaks are
taken with a 3x3 max-pool, then a hand-written greedy NMS (the algorithm from the lecture)
removes duplicates across classes of overlapping boxes. Evaluation: VOC-style AP per
class with all-point interpolation, averaged into map50 (IoU threshold 0.5).
Data: generated canvases with exact boxes (tools/synthetic.py).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from pydantic import Field

from tools.common import (Progress, RunDir, Started, ToolConfig, autocast, finish, null_emit, pick_device, plot_history,
                          plt_figure, seed_everything)
from tools.synthetic import CLASSES, make_canvases

STRIDE = 4


class Config(ToolConfig):
    epochs: int = Field(12, ge=1, le=500, description="Passes over the training canvases.")
    lr: float = Field(3e-3, gt=0, le=1.0, description="AdamW learning rate (one-cycle schedule).")
    batch_size: int = Field(32, ge=2, le=4096, description="Canvases per step.")
    n_train: int = Field(1600, ge=32, le=1_000_000, description="Generated training canvases.")
    n_test: int = Field(300, ge=16, le=100_000, description="Generated test canvases (another seed).")
    image_size: int = Field(48, ge=32, le=512, description="Canvas side in pixels (multiple of 4).")
    channels: int = Field(32, ge=4, le=512, description="Backbone width.")
    score_threshold: float = Field(0.2, ge=0.0, le=1.0, description="Minimum heatmap score of a detection.")
    nms_iou: float = Field(0.5, ge=0.0, le=1.0, description="IoU above which NMS suppresses the weaker box.")
    max_detections: int = Field(20, ge=1, le=1000, description="Detections kept per image.")


PRESETS = {
    "smoke": {"epochs": 1, "n_train": 128, "n_test": 32, "channels": 8},
    "quick": {},
    "full": {"epochs": 60, "n_train": 20000, "n_test": 2000, "image_size": 96, "channels": 64, "batch_size": 64},
}


# ---- model ---------------------------------------------------------------------------------------------

def build_model(c: int, n_classes: int):
    import torch.nn as nn

    def conv(i, o, s=1):
        return nn.Sequential(nn.Conv2d(i, o, 3, s, 1, bias=False), nn.BatchNorm2d(o), nn.ReLU(inplace=True))

    class CenterNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.backbone = nn.Sequential(conv(1, c), conv(c, c), conv(c, 2 * c, 2), conv(2 * c, 2 * c),
                                          conv(2 * c, 4 * c, 2), conv(4 * c, 4 * c), conv(4 * c, 4 * c))  # stride 4
            self.heat = nn.Sequential(conv(4 * c, 2 * c), nn.Conv2d(2 * c, n_classes, 1))
            self.reg = nn.Sequential(conv(4 * c, 2 * c), nn.Conv2d(2 * c, 4, 1))  # w, h (log px), dx, dy
            self.heat[-1].bias.data.fill_(-2.19)  # prior p=0.1 so the focal loss starts stable

        def forward(self, x):
            f = self.backbone(x)
            return self.heat(f), self.reg(f)

    return CenterNet()


# ---- targets, loss, decoding -----------------------------------------------------------------------------

def make_targets(boxes: list[np.ndarray], labels: list[np.ndarray], size: int, k: int):
    """Gaussian centre heatmaps (N, k, S, S) and regression targets at the centre cells."""
    s = size // STRIDE
    heat = np.zeros((len(boxes), k, s, s), np.float32)
    reg = np.zeros((len(boxes), 4, s, s), np.float32)
    mask = np.zeros((len(boxes), s, s), np.float32)
    yy, xx = np.mgrid[0:s, 0:s]
    for i, (bx, lb) in enumerate(zip(boxes, labels)):
        for (x1, y1, x2, y2), c in zip(bx, lb):
            cx, cy = (x1 + x2) / 2 / STRIDE, (y1 + y2) / 2 / STRIDE
            ix, iy = min(int(cx), s - 1), min(int(cy), s - 1)
            sigma = max(0.5, (x2 - x1 + y2 - y1) / 2 / STRIDE / 3)
            g = np.exp(-((xx - ix) ** 2 + (yy - iy) ** 2) / (2 * sigma ** 2))
            heat[i, c] = np.maximum(heat[i, c], g)
            reg[i, :, iy, ix] = [np.log(x2 - x1), np.log(y2 - y1), cx - ix, cy - iy]
            mask[i, iy, ix] = 1.0
    return heat, reg, mask


def focal_loss(logits, target):
    """CenterNet's penalty-reduced focal loss on Gaussian heatmaps."""
    import torch

    p = torch.sigmoid(logits.float()).clamp(1e-4, 1 - 1e-4)
    pos = target.eq(1).float()
    neg = 1 - pos
    pos_loss = torch.log(p) * (1 - p) ** 2 * pos
    neg_loss = torch.log(1 - p) * p ** 2 * (1 - target) ** 4 * neg
    return -(pos_loss.sum() + neg_loss.sum()) / pos.sum().clamp(min=1)


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU matrix between boxes a (N,4) and b (M,4), xyxy."""
    tl = np.maximum(a[:, None, :2], b[None, :, :2])
    br = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(br - tl, 0, None).prod(-1)
    area_a = (a[:, 2:] - a[:, :2]).prod(-1)
    area_b = (b[:, 2:] - b[:, :2]).prod(-1)
    return inter / np.maximum(area_a[:, None] + area_b[None] - inter, 1e-9)


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Greedy NMS: take the best box, drop every box overlapping it above the threshold, repeat."""
    order = np.argsort(-scores, kind="stable")
    keep = []
    while len(order):
        i = order[0]
        keep.append(i)
        if len(order) == 1:
            break
        ious = box_iou(boxes[i:i + 1], boxes[order[1:]])[0]
        order = order[1:][ious <= iou_threshold]
    return np.asarray(keep, dtype=np.int64)


def decode(heat_logits, reg, cfg: Config) -> list[dict]:
    """Peaks of the heatmaps -> per image {"boxes" (K,4), "scores" (K,), "labels" (K,)}."""
    import torch
    import torch.nn.functional as F

    heat = torch.sigmoid(heat_logits.float())
    peaks = heat * (F.max_pool2d(heat, 3, 1, 1) == heat)  # keep local maxima only
    b, k, s, _ = heat.shape
    out = []
    for i in range(b):
        scores, idx = peaks[i].reshape(-1).topk(min(cfg.max_detections * 2, k * s * s))
        keep = scores >= cfg.score_threshold
        scores, idx = scores[keep], idx[keep]
        cls, cell = idx // (s * s), idx % (s * s)
        cy, cx = cell // s, cell % s
        r = reg[i].float()  # (4, S, S)
        w, h = r[0, cy, cx].exp(), r[1, cy, cx].exp()
        px, py = (cx + r[2, cy, cx]) * STRIDE, (cy + r[3, cy, cx]) * STRIDE
        boxes = torch.stack([px - w / 2, py - h / 2, px + w / 2, py + h / 2], 1).cpu().numpy()
        sc, lb = scores.cpu().numpy(), cls.cpu().numpy()
        if len(sc):
            kept = nms(boxes, sc, cfg.nms_iou)[: cfg.max_detections]
            boxes, sc, lb = boxes[kept], sc[kept], lb[kept]
        out.append({"boxes": boxes.reshape(-1, 4), "scores": sc, "labels": lb.astype(np.int64)})
    return out


def average_precision(dets: list[dict], gt_boxes: list[np.ndarray], gt_labels: list[np.ndarray], cls: int,
                      iou_threshold: float = 0.5) -> tuple[float, np.ndarray, np.ndarray]:
    """VOC AP (all-point interpolation) for one class; also returns the PR curve."""
    n_gt = sum(int((g == cls).sum()) for g in gt_labels)
    records = []  # (score, image, box)
    for i, d in enumerate(dets):
        for bx, sc, lb in zip(d["boxes"], d["scores"], d["labels"]):
            if lb == cls:
                records.append((float(sc), i, bx))
    records.sort(key=lambda r: -r[0])
    used = [np.zeros(int((g == cls).sum()), bool) for g in gt_labels]
    tp = np.zeros(len(records))
    for j, (_, i, bx) in enumerate(records):
        g = gt_boxes[i][gt_labels[i] == cls]
        if len(g):
            ious = box_iou(bx[None], g)[0]
            best = int(ious.argmax())
            if ious[best] >= iou_threshold and not used[i][best]:
                used[i][best] = True
                tp[j] = 1
    if n_gt == 0:
        return float("nan"), np.zeros(0), np.zeros(0)
    ctp, cfp = np.cumsum(tp), np.cumsum(1 - tp)
    recall = ctp / n_gt
    precision = ctp / np.maximum(ctp + cfp, 1e-9)
    mrec = np.concatenate([[0.0], recall, [1.0]])
    mpre = np.concatenate([[0.0], precision, [0.0]])
    for j in range(len(mpre) - 2, -1, -1):  # precision envelope (monotone non-increasing)
        mpre[j] = max(mpre[j], mpre[j + 1])
    steps = np.flatnonzero(mrec[1:] != mrec[:-1])
    return float(((mrec[steps + 1] - mrec[steps]) * mpre[steps + 1]).sum()), recall, precision


# ---- run ----------------------------------------------------------------------------------------------------

def run(cfg: Config, emit=null_emit, out_dir: str | Path | None = None):
    import torch
    import torch.nn.functional as F

    t0 = time.perf_counter()
    seed_everything(cfg.seed)
    device = pick_device(cfg.device)
    rd = RunDir(out_dir, "detection", emit)
    emit(Started(tool="detection", config=cfg.model_dump(), device=str(device), total_steps=cfg.epochs))
    size = cfg.image_size - cfg.image_size % STRIDE
    k = len(CLASSES)
    tr = make_canvases(cfg.n_train, size, seed=cfg.seed)
    te = make_canvases(cfg.n_test, size, seed=cfg.seed + 1_000_003)
    heat_t, reg_t, mask_t = (torch.from_numpy(a).to(device) for a in make_targets(tr.boxes, tr.labels, size, k))
    x_tr, x_te = torch.from_numpy(tr.images).to(device), torch.from_numpy(te.images).to(device)
    model = build_model(cfg.channels, k).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=1e-4)
    spe = (len(x_tr) + cfg.batch_size - 1) // cfg.batch_size
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=cfg.epochs * spe)
    gen = torch.Generator().manual_seed(cfg.seed)

    def detect(x):
        model.eval()
        dets = []
        with torch.no_grad(), autocast(device):
            for i in range(0, len(x), 64):
                h, r = model(x[i:i + 64])
                dets += decode(h, r, cfg)
        return dets

    def evaluate():
        dets = detect(x_te)
        aps = [average_precision(dets, te.boxes, te.labels, c)[0] for c in range(k)]
        return float(np.nanmean(aps)), aps, dets

    history = []
    for epoch in range(1, cfg.epochs + 1):
        model.train()
        order = torch.randperm(len(x_tr), generator=gen).to(device)
        # loss sums stay on the device: a float() per step would sync the GPU every step
        tot_h, tot_r = torch.zeros((), device=device), torch.zeros((), device=device)
        for i in range(0, len(x_tr), cfg.batch_size):
            idx = order[i:i + cfg.batch_size]
            with autocast(device):
                h, r = model(x_tr[idx])
            lh = focal_loss(h, heat_t[idx])
            m = mask_t[idx][:, None]  # (B, 1, S, S): regression only at object centres
            lr_ = (F.l1_loss(r.float() * m, reg_t[idx] * m, reduction="sum") / m.sum().clamp(min=1))
            loss = lh + lr_
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            tot_h += lh.detach() * len(idx)
            tot_r += lr_.detach() * len(idx)
        val_map = evaluate()[0] if (epoch == cfg.epochs or epoch % 3 == 0) else float("nan")
        mrow = {"epoch": float(epoch), "heatmap_loss": tot_h.item() / len(x_tr), "box_loss": tot_r.item() / len(x_tr)}
        if not np.isnan(val_map):
            mrow["val_map50"] = val_map
        history.append(mrow)
        emit(Progress(step=epoch, total=cfg.epochs, unit="epoch", metrics={a: b for a, b in mrow.items() if a != "epoch"}))

    map50, aps, dets = evaluate()
    metrics = {"map50": map50, **{f"ap50_{n}": float(a) for n, a in zip(CLASSES, aps)}}
    rd.save_figure("learning_curves.png", plot_history(history, {"loss": ["heatmap_loss", "box_loss"], "mAP@0.5": ["val_map50"]}))
    fig, axes = plt_figure(2, 4, figsize=(12, 6.2))
    for ax, i in zip(np.ravel(axes), range(8)):
        ax.imshow(te.images[i, 0], cmap="gray", vmin=0, vmax=1)
        for (x1, y1, x2, y2) in te.boxes[i]:
            ax.add_patch(_rect(x1, y1, x2, y2, "lime", "--"))
        for (x1, y1, x2, y2), sc, lb in zip(dets[i]["boxes"], dets[i]["scores"], dets[i]["labels"]):
            ax.add_patch(_rect(x1, y1, x2, y2, "red", "-"))
            ax.text(x1, y1 - 1, f"{CLASSES[lb]} {sc:.2f}", color="red", fontsize=6)
        ax.axis("off")
    fig.suptitle(f"green dashed: ground truth, red: predictions (mAP@0.5 = {map50:.3f})")
    rd.save_figure("detections.png", fig)
    fig, ax = plt_figure(figsize=(5, 4))
    for c, name in enumerate(CLASSES):
        ap, rec, prec = average_precision(dets, te.boxes, te.labels, c)
        ax.plot(rec, prec, label=f"{name} AP={ap:.3f}")
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.legend()
    ax.set_title("precision-recall, IoU 0.5")
    rd.save_figure("pr_curves.png", fig)
    rd.save_checkpoint("model.pt", {"state_dict": model.state_dict(), "config": cfg.model_dump(), "classes": CLASSES,
                                    "image_size": size})
    return finish("detection", cfg, emit, rd, metrics, history, device, t0)


def _rect(x1, y1, x2, y2, color, ls):
    import matplotlib.patches as patches

    return patches.Rectangle((x1 - 0.5, y1 - 0.5), x2 - x1, y2 - y1, fill=False, edgecolor=color, linestyle=ls, lw=1.2)


def infer(checkpoint: str | Path, inputs, out_dir: str | Path | None = None) -> dict:
    """image -> {"boxes": [{"box", "label", "score"}], "image": overlay png}."""
    import torch

    from tools.segmentation import _image_tensor

    ck = torch.load(checkpoint, map_location="cpu", weights_only=False)
    cfg = Config(**ck["config"])
    model = build_model(cfg.channels, len(ck["classes"]))
    model.load_state_dict(ck["state_dict"])
    x, arr = _image_tensor(inputs, ck["image_size"])
    with torch.no_grad():
        h, r = model.eval()(x)
    d = decode(h, r, cfg)[0]
    out = Path(out_dir or ".")
    out.mkdir(parents=True, exist_ok=True)
    fig, ax = plt_figure(figsize=(4, 4))
    ax.imshow(arr, cmap="gray")
    for (x1, y1, x2, y2), sc, lb in zip(d["boxes"], d["scores"], d["labels"]):
        ax.add_patch(_rect(x1, y1, x2, y2, "red", "-"))
        ax.text(x1, y1 - 1, f"{ck['classes'][lb]} {sc:.2f}", color="red", fontsize=7)
    ax.axis("off")
    path = out / f"detection-{int(time.time() * 1000)}.png"
    fig.savefig(path, dpi=110, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return {"boxes": [{"box": [float(v) for v in b], "label": ck["classes"][int(lb)], "score": float(s)}
                      for b, s, lb in zip(d["boxes"], d["scores"], d["labels"])], "image": str(path)}


# ---- spec: what the rest of the tutor knows about this tool ---------------------------------------------

from tools.cost import cached as cost_cached, measure, steps_for, training_cost  # noqa: E402
from tools.spec import Cost, Finding, FindingKind, Metric, ParamWord, ToolSpec, Upload  # noqa: E402

# effective FLOP/s of a training step on the 2-core reference machine, and the per-epoch evaluation
# (decoding, NMS and mAP in Python, per test canvas), fitted to bench/experiments.py (quick: 108 s)
CPU_FLOPS = 3.2e11
EVAL_S_PER_IMAGE = 0.01


@cost_cached
def estimate(cfg: Config) -> Cost:
    import torch

    size = cfg.image_size - cfg.image_size % STRIDE
    bs = min(cfg.batch_size, cfg.n_train)
    m = measure(lambda: build_model(cfg.channels, len(CLASSES)), lambda: (torch.empty(bs, 1, size, size),),
                loss=lambda out: out[0].float().sum() + out[1].float().sum())
    # canvases + heatmap/regression targets live on the device as float32
    data = (cfg.n_train + cfg.n_test) * size * size * 4 * (1 + len(CLASSES) / 4 + 1)
    return training_cost(m, steps_for(cfg.n_train, bs, cfg.epochs), CPU_FLOPS, data_bytes=int(data),
                         fixed_cpu_s=3.0 + cfg.epochs * cfg.n_test * EVAL_S_PER_IMAGE, eval_share=0.5)


def findings(result: dict, lang: str) -> list[Finding]:
    m = result.get("metrics") or {}
    aps = {k.removeprefix("ap50_"): v for k, v in m.items() if k.startswith("ap50_")}
    out = []
    if aps and len(aps) > 1:
        worst = min(aps, key=aps.get)
        if aps[worst] < m.get("map50", 0) - 0.1:
            out.append(Finding(FindingKind.NOTE, f"Хуже всего находится класс «{worst}» (AP@0.5 = {aps[worst]:.2f}).",
                               f"The hardest class is '{worst}' (AP@0.5 = {aps[worst]:.2f})."))
    return out


def next_step(result: dict, found: list[Finding], lang: str) -> str | None:
    cfg = result.get("config") or {}
    if (result.get("metrics") or {}).get("map50", 0) < 0.7:
        return f"/run detection epochs={min(500, int(cfg.get('epochs', 12)) * 2)}"
    return f"/run detection score_threshold={min(0.9, float(cfg.get('score_threshold', 0.2)) + 0.2):.1f}"


def describe_prediction(pred: dict, lang: str) -> str:
    boxes = pred.get("boxes") or []
    items = ", ".join(f"{b.get('label')} ({b.get('score', 0):.2f})" for b in boxes[:10]) or "—"
    return f"Найдено объектов: {len(boxes)}: {items}." if lang == "ru" else f"Objects found: {len(boxes)}: {items}."


SPEC = ToolSpec(
    name="detection",
    summary="Object detection on generated canvases with a compact anchor-free (CenterNet-style) detector, "
            "hand-written NMS and mAP@0.5.",
    summary_ru="Детекция объектов на сгенерированных изображениях: компактный безъякорный детектор (идея CenterNet), "
               "NMS и mAP@0.5.",
    theory_query="детекция объектов рамки IoU NMS mAP якоря YOLO",
    lectures=("lectures/08_detection.md",),
    mentions=(r"детекц|детектор|детектир|обнаружени\w* объект|найди объект", r"\bdetect", r"\byolo\b|centernet|\bssd\b|\bnms\b|\bmap50\b"),
    words=(ParamWord("score_threshold", r"(?:порог\w* (?:уверенност\w*|скор\w*|вероятност\w*)|score.?threshold|"
                                        r"confidence threshold|threshold)\s*[:=]?\s*(\d+(?:[.,]\d+)?)"),
           ParamWord("nms_iou", r"(?:порог\w* nms|nms(?:.?iou)?(?: порог\w*)?|iou.?threshold)\s*[:=]?\s*(\d+(?:[.,]\d+)?)"),
           ParamWord("image_size", r"(\d+)\s*(?:px|пикс\w*)"),
           ParamWord("n_train", r"(\d+)\s*(?:обучающих )?(?:изображени\w*|картин\w*|images|canvases)")),
    metrics={None: Metric("map50", True, 0.7, "mAP@0.5", "mAP@0.5")},
    estimate=estimate,
    upload=Upload.IMAGE,
    upload_words=(r"детек|detect|рамк|box|найди|объект",),
    findings=findings,
    next_step=next_step,
    describe_prediction=describe_prediction,
    short_keys=("epochs", "lr", "batch_size", "channels", "score_threshold", "nms_iou", "device"),
)
