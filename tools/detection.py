"""Object detection (lecture: «Детекция объектов», corpus/lectures/08_detection.md).

model="centernet" (default, the one to read): a compact anchor-free detector written out
here. CenterNet idea: a stride-4 feature map predicts, per class, a heatmap whose peaks are
object centres, plus the box size (w, h) and the sub-cell offset of the centre. Peaks are
taken with a 3x3 max-pool, then a hand-written greedy NMS (the algorithm from the lecture)
removes duplicates across classes of overlapping boxes.
model="fasterrcnn": fine-tuning a two-stage torchvision Faster R-CNN whose backbone is the
packaged ImageNet MobileNetV2 (its stride-16 features, frozen BatchNorm) with an
AnchorGenerator sized to the input: the way to train a detector on real data offline, where
no COCO-pretrained detector is available. model="fasterrcnn_coco" starts from torchvision's
COCO-pretrained Faster R-CNN (MobileNetV3-FPN) instead and needs the internet once.
Data: generated canvases with exact boxes (tools/synthetic.py, default); a YOLO or COCO
dataset registered by the course staff (`dataset_name=NAME`, tools/registered.py); online
Penn-Fudan pedestrians or PASCAL VOC 2012 (tools/online.py). Presets: `finetune` (CPU:
Faster R-CNN at 128 px, minutes) / `finetune_gpu` for registered data, `pennfudan`,
`pennfudan_gpu`, `voc`, `voc_gpu`.
Evaluation: VOC-style AP per class with all-point interpolation, averaged into map50 (IoU
threshold 0.5).
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import Field, model_validator

from tools import registered
from tools.common import (MissingDataError, Progress, RunDir, Started, ToolConfig, autocast, finish, null_emit,
                          pick_device, plot_history, plt_figure, seed_everything)
from tools.synthetic import CLASSES, make_canvases

STRIDE = 4
REGISTERED_KIND = "detection"
OFFLINE_HINT = "use dataset=canvases, or a YOLO/COCO dataset registered by the course staff (dataset_name=NAME, " \
               "GET /v1/datasets)"


class Config(ToolConfig):
    dataset: Literal["canvases", "registered", "penn_fudan", "voc"] = Field(
        "canvases", description="canvases: generated shapes (offline); registered: a YOLO/COCO dataset registered by "
                                "the course staff, named by dataset_name; penn_fudan, voc: downloaded.")
    dataset_name: str | None = registered.name_field()
    model: Literal["centernet", "fasterrcnn", "fasterrcnn_coco"] = Field(
        "centernet", description="centernet: the hand-written anchor-free detector; fasterrcnn: torchvision Faster "
                                 "R-CNN on the packaged ImageNet MobileNetV2 (fine-tuning on real data); "
                                 "fasterrcnn_coco: torchvision's COCO-pretrained Faster R-CNN (downloads weights).")
    freeze_backbone: bool = Field(False, description="fasterrcnn: keep the pretrained backbone's weights frozen.")
    epochs: int = Field(12, ge=1, le=500, description="Passes over the training images.")
    lr: float = Field(3e-3, gt=0, le=1.0, description="AdamW learning rate (one-cycle schedule).")
    batch_size: int = Field(32, ge=2, le=4096, description="Images per step.")
    n_train: int = Field(1600, ge=32, le=1_000_000, description="canvases: generated training canvases.")
    n_test: int = Field(300, ge=16, le=100_000, description="canvases: generated test canvases (another seed).")
    max_images: int = Field(0, ge=0, le=10_000_000, description="Real datasets: at most this many images per split "
                                                                "(0 = all); CPU presets train on a subset.")
    image_size: int = Field(48, ge=32, le=1024, description="Canvas side, or the square input size real images are "
                                                            "resized to (pixels, multiple of 4).")
    channels: int = Field(32, ge=4, le=512, description="centernet: backbone width.")
    score_threshold: float = Field(0.2, ge=0.0, le=1.0, description="Minimum score of a detection.")
    nms_iou: float = Field(0.5, ge=0.0, le=1.0, description="IoU above which NMS suppresses the weaker box.")
    max_detections: int = Field(20, ge=1, le=1000, description="Detections kept per image.")

    @model_validator(mode="before")
    @classmethod
    def _dataset_name_implies_registered(cls, data):
        return registered.default_to_registered(data)

    @model_validator(mode="after")
    def _registered_needs_name(self):
        return registered.check_choice(self)


_RCNN_CPU = {"model": "fasterrcnn", "image_size": 128, "epochs": 8, "batch_size": 8, "lr": 1e-3, "max_images": 400,
             "score_threshold": 0.05}
_RCNN_GPU = {"model": "fasterrcnn", "image_size": 416, "epochs": 30, "batch_size": 16, "lr": 1e-3, "max_images": 0,
             "score_threshold": 0.05, "max_detections": 100}
PRESETS = {
    "smoke": {"epochs": 1, "n_train": 128, "n_test": 32, "channels": 8},
    "quick": {},
    "full": {"epochs": 60, "n_train": 20000, "n_test": 2000, "image_size": 96, "channels": 64, "batch_size": 64},
    # a registered YOLO/COCO dataset: add dataset_name=NAME
    "finetune": _RCNN_CPU,
    "finetune_gpu": _RCNN_GPU,
    "pennfudan": {**_RCNN_CPU, "dataset": "penn_fudan", "image_size": 256, "batch_size": 4, "lr": 5e-4},
    "pennfudan_gpu": {**_RCNN_GPU, "dataset": "penn_fudan", "model": "fasterrcnn_coco", "image_size": 512,
                      "batch_size": 8, "lr": 5e-4},
    "voc": {**_RCNN_CPU, "dataset": "voc", "image_size": 256, "epochs": 3, "max_images": 600},
    "voc_gpu": {**_RCNN_GPU, "dataset": "voc", "model": "fasterrcnn_coco", "image_size": 512, "epochs": 12},
}


# ---- data ----------------------------------------------------------------------------------------------

def load(cfg: Config, size: int) -> registered.DetectionData:
    """Images (N, C, S, S) — float in [0, 1] for canvases, uint8 for photos — with pixel boxes."""
    import torch

    if cfg.dataset == "canvases":
        tr = make_canvases(cfg.n_train, size, seed=cfg.seed)
        te = make_canvases(cfg.n_test, size, seed=cfg.seed + 1_000_003)
        return registered.DetectionData(torch.from_numpy(tr.images), tr.boxes, tr.labels, torch.from_numpy(te.images),
                                        te.boxes, te.labels, list(CLASSES))
    if cfg.dataset == "registered":
        return registered.load_detection(cfg.dataset_name, size, cfg.seed, cfg.max_images)
    from tools import online

    fn = online.penn_fudan_detection if cfg.dataset == "penn_fudan" else online.voc_detection
    return fn(size, cfg.seed, cfg.max_images, OFFLINE_HINT)


def as_float(x):
    """A batch as float in [0, 1] (photos stay uint8 on the device until used: 4x less memory)."""
    return x if x.is_floating_point() else x.float() / 255.0


def metric_key(name: str) -> str:
    return "ap50_" + re.sub(r"\W+", "_", name).strip("_").lower()


# ---- model ---------------------------------------------------------------------------------------------

def build_model(c: int, n_classes: int, in_ch: int = 1):
    import torch.nn as nn

    def conv(i, o, s=1):
        return nn.Sequential(nn.Conv2d(i, o, 3, s, 1, bias=False), nn.BatchNorm2d(o), nn.ReLU(inplace=True))

    class CenterNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.backbone = nn.Sequential(conv(in_ch, c), conv(c, c), conv(c, 2 * c, 2), conv(2 * c, 2 * c),
                                          conv(2 * c, 4 * c, 2), conv(4 * c, 4 * c), conv(4 * c, 4 * c))  # stride 4
            self.heat = nn.Sequential(conv(4 * c, 2 * c), nn.Conv2d(2 * c, n_classes, 1))
            self.reg = nn.Sequential(conv(4 * c, 2 * c), nn.Conv2d(2 * c, 4, 1))  # w, h (log px), dx, dy
            self.heat[-1].bias.data.fill_(-2.19)  # prior p=0.1 so the focal loss starts stable

        def forward(self, x):
            f = self.backbone(x)
            return self.heat(f), self.reg(f)

    return CenterNet()


def build_fasterrcnn(n_classes: int, size: int, cfg: Config, pretrained: bool = True):
    """torchvision Faster R-CNN for n_classes (+ background): the packaged MobileNetV2's stride-16
    features as backbone (model="fasterrcnn"), or the COCO-pretrained MobileNetV3-FPN detector
    with a new box predictor (model="fasterrcnn_coco"). Images keep their size (min = max = size)."""
    import torch
    import torchvision
    from torchvision.models.detection import FasterRCNN
    from torchvision.models.detection.anchor_utils import AnchorGenerator
    from torchvision.models.detection.faster_rcnn import FastRCNNPredictor
    from torchvision.ops import MultiScaleRoIAlign
    from torchvision.ops.misc import FrozenBatchNorm2d

    common = dict(min_size=size, max_size=size, box_score_thresh=cfg.score_threshold, box_nms_thresh=cfg.nms_iou,
                  box_detections_per_img=cfg.max_detections)
    if cfg.model == "fasterrcnn_coco":
        from torchvision.models.detection import FasterRCNN_MobileNet_V3_Large_FPN_Weights as W
        from torchvision.models.detection import fasterrcnn_mobilenet_v3_large_fpn

        try:
            model = fasterrcnn_mobilenet_v3_large_fpn(weights=W.COCO_V1 if pretrained else None, weights_backbone=None,
                                                      trainable_backbone_layers=0 if cfg.freeze_backbone else 3, **common)
        except Exception as e:  # the weights come from download.pytorch.org
            raise MissingDataError(f"model=fasterrcnn_coco needs the internet once to download torchvision's COCO "
                                   f"weights ({type(e).__name__}); offline use model=fasterrcnn (packaged "
                                   "ImageNet MobileNetV2 backbone)") from None
        in_features = model.roi_heads.box_predictor.cls_score.in_features
        model.roi_heads.box_predictor = FastRCNNPredictor(in_features, n_classes + 1)  # + background
        return model
    from tools.cnn import mobilenet

    backbone = (mobilenet(2, cfg.freeze_backbone) if pretrained else torchvision.models.mobilenet_v2()).features[:14]
    # small detection batches make BatchNorm statistics noisy: keep the pretrained ones (as torchvision's detectors do)
    for m in list(backbone.modules()):
        for child_name, child in list(m.named_children()):
            if isinstance(child, torch.nn.BatchNorm2d):
                frozen = FrozenBatchNorm2d(child.num_features, child.eps)
                for k in ("weight", "bias", "running_mean", "running_var"):
                    getattr(frozen, k).copy_(getattr(child, k).detach())
                setattr(m, child_name, frozen)
    backbone.out_channels = 96  # MobileNetV2 after block 13: 96 channels at stride 16
    sizes = tuple(sorted({max(8, int(size * f)) for f in (1 / 16, 1 / 8, 1 / 4, 1 / 2, 0.8)}))
    anchors = AnchorGenerator(sizes=(sizes,), aspect_ratios=((0.5, 1.0, 2.0),))
    roi_pool = MultiScaleRoIAlign(featmap_names=["0"], output_size=7, sampling_ratio=2)
    return FasterRCNN(backbone, num_classes=n_classes + 1, rpn_anchor_generator=anchors, box_roi_pool=roi_pool,
                      rpn_pre_nms_top_n_train=600, rpn_post_nms_top_n_train=300, rpn_pre_nms_top_n_test=300,
                      rpn_post_nms_top_n_test=150, rpn_batch_size_per_image=128, box_batch_size_per_image=64, **common)


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
    data = load(cfg, size)
    classes, k = data.classes, len(data.classes)
    x_tr, x_te = data.x_train.to(device), data.x_test.to(device)
    rcnn = cfg.model != "centernet"
    if rcnn:
        model = build_fasterrcnn(k, size, cfg).to(device)
        # targets stay on the device; torchvision numbers classes from 1 (0 is background)
        targets = [{"boxes": torch.as_tensor(b, dtype=torch.float32, device=device).reshape(-1, 4),
                    "labels": torch.as_tensor(lb, dtype=torch.int64, device=device) + 1}
                   for b, lb in zip(data.boxes_train, data.labels_train)]
    else:
        model = build_model(cfg.channels, k, x_tr.shape[1]).to(device)
        heat_t, reg_t, mask_t = (torch.from_numpy(a).to(device)
                                 for a in make_targets(data.boxes_train, data.labels_train, size, k))
    if device.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=1e-4)
    spe = (len(x_tr) + cfg.batch_size - 1) // cfg.batch_size
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=cfg.epochs * spe)
    gen = torch.Generator().manual_seed(cfg.seed)

    def rgb(xb):  # the ImageNet backbone reads three channels
        xb = as_float(xb)
        return xb.expand(-1, 3, -1, -1) if xb.shape[1] == 1 else xb

    def detect(x):
        model.eval()
        dets = []
        with torch.no_grad(), autocast(device):
            for i in range(0, len(x), 64 if not rcnn else 16):
                if rcnn:
                    for o in model(list(rgb(x[i:i + 16]))):
                        dets.append({"boxes": o["boxes"].float().cpu().numpy().reshape(-1, 4),
                                     "scores": o["scores"].float().cpu().numpy(),
                                     "labels": (o["labels"] - 1).cpu().numpy().astype(np.int64)})
                else:
                    h, r = model(as_float(x[i:i + 64]))
                    dets += decode(h, r, cfg)
        return dets

    def evaluate():
        dets = detect(x_te)
        aps = [average_precision(dets, data.boxes_test, data.labels_test, c)[0] for c in range(k)]
        return float(np.nanmean(aps)), aps, dets

    history = []
    for epoch in range(1, cfg.epochs + 1):
        model.train()
        order = torch.randperm(len(x_tr), generator=gen)
        # loss sums stay on the device: a float() per step would sync the GPU every step
        tot_a, tot_b = torch.zeros((), device=device), torch.zeros((), device=device)
        for i in range(0, len(x_tr), cfg.batch_size):
            idx = order[i:i + cfg.batch_size]
            if rcnn:
                xb, tb = rgb(x_tr[idx.to(device)]), [targets[j] for j in idx.tolist()]  # host indices: no sync
                if torch.rand(1, generator=gen).item() < 0.5:  # horizontal flip of images and their boxes
                    xb = xb.flip(-1)
                    tb = [{"boxes": t["boxes"][:, [2, 1, 0, 3]] * torch.tensor([-1.0, 1, -1, 1], device=device)
                           + torch.tensor([size, 0.0, size, 0], device=device), "labels": t["labels"]} for t in tb]
                with autocast(device):
                    losses = model(list(xb), tb)
                la = losses["loss_classifier"] + losses["loss_box_reg"]
                lb_ = losses["loss_objectness"] + losses["loss_rpn_box_reg"]
            else:
                idx = idx.to(device)
                with autocast(device):
                    h, r = model(as_float(x_tr[idx]))
                la = focal_loss(h, heat_t[idx])
                m = mask_t[idx][:, None]  # (B, 1, S, S): regression only at object centres
                lb_ = (F.l1_loss(r.float() * m, reg_t[idx] * m, reduction="sum") / m.sum().clamp(min=1))
            loss = la + lb_
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if rcnn:
                torch.nn.utils.clip_grad_norm_(params, 10.0)  # early RPN steps can spike on real data
            opt.step()
            sched.step()
            tot_a += la.detach() * len(idx)
            tot_b += lb_.detach() * len(idx)
        val_map = evaluate()[0] if (epoch == cfg.epochs or epoch % 3 == 0) else float("nan")
        names = ("detector_loss", "rpn_loss") if rcnn else ("heatmap_loss", "box_loss")
        mrow = {"epoch": float(epoch), names[0]: tot_a.item() / len(x_tr), names[1]: tot_b.item() / len(x_tr)}
        if not np.isnan(val_map):
            mrow["val_map50"] = val_map
        history.append(mrow)
        emit(Progress(step=epoch, total=cfg.epochs, unit="epoch", metrics={a: b for a, b in mrow.items() if a != "epoch"}))

    map50, aps, dets = evaluate()
    metrics = {"map50": map50, **{metric_key(n): float(a) for n, a in zip(classes, aps)}}
    rd.save_figure("learning_curves.png", plot_history(history, {"loss": list(names), "mAP@0.5": ["val_map50"]}))
    fig, axes = plt_figure(2, 4, figsize=(12, 6.2))
    for ax in np.ravel(axes):
        ax.axis("off")
    for ax, i in zip(np.ravel(axes), range(min(8, len(x_te)))):
        img = as_float(data.x_test[i]).permute(1, 2, 0).numpy()
        ax.imshow(img.squeeze(-1) if img.shape[-1] == 1 else img, cmap="gray", vmin=0, vmax=1)
        for (x1, y1, x2, y2) in data.boxes_test[i]:
            ax.add_patch(_rect(x1, y1, x2, y2, "lime", "--"))
        for (x1, y1, x2, y2), sc, lb in zip(dets[i]["boxes"], dets[i]["scores"], dets[i]["labels"]):
            if sc >= max(cfg.score_threshold, 0.3):
                ax.add_patch(_rect(x1, y1, x2, y2, "red", "-"))
                ax.text(x1, y1 - 1, f"{classes[lb]} {sc:.2f}", color="red", fontsize=6)
    fig.suptitle(f"green dashed: ground truth, red: predictions (mAP@0.5 = {map50:.3f})")
    rd.save_figure("detections.png", fig)
    fig, ax = plt_figure(figsize=(5, 4))
    for c, name in list(enumerate(classes))[:20]:
        ap, rec, prec = average_precision(dets, data.boxes_test, data.labels_test, c)
        ax.plot(rec, prec, label=f"{name} AP={ap:.3f}")
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.legend(fontsize=7)
    ax.set_title("precision-recall, IoU 0.5")
    rd.save_figure("pr_curves.png", fig)
    rd.save_checkpoint("model.pt", {"state_dict": model.state_dict(), "config": cfg.model_dump(), "classes": classes,
                                    "image_size": size, "in_channels": int(x_tr.shape[1])})
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
    classes, size, in_ch = ck["classes"], ck["image_size"], ck.get("in_channels", 1)
    x, arr = _image_tensor(inputs, size, in_ch)
    if cfg.model == "centernet":
        model = build_model(cfg.channels, len(classes), in_ch)
        model.load_state_dict(ck["state_dict"])
        with torch.no_grad():
            h, r = model.eval()(x)
        d = decode(h, r, cfg)[0]
    else:
        model = build_fasterrcnn(len(classes), size, cfg, pretrained=False)
        model.load_state_dict(ck["state_dict"])
        with torch.no_grad():
            o = model.eval()(list(x.expand(-1, 3, -1, -1)))[0]
        d = {"boxes": o["boxes"].numpy(), "scores": o["scores"].numpy(), "labels": (o["labels"] - 1).numpy()}
    out = Path(out_dir or ".")
    out.mkdir(parents=True, exist_ok=True)
    fig, ax = plt_figure(figsize=(4, 4))
    ax.imshow(arr, cmap="gray" if arr.ndim == 2 else None)
    for (x1, y1, x2, y2), sc, lb in zip(d["boxes"], d["scores"], d["labels"]):
        ax.add_patch(_rect(x1, y1, x2, y2, "red", "-"))
        ax.text(x1, y1 - 1, f"{classes[lb]} {sc:.2f}", color="red", fontsize=7)
    ax.axis("off")
    path = out / f"detection-{int(time.time() * 1000)}.png"
    fig.savefig(path, dpi=110, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return {"boxes": [{"box": [float(v) for v in b], "label": classes[int(lb)], "score": float(s)}
                      for b, s, lb in zip(d["boxes"], d["scores"], d["labels"])], "image": str(path)}


# ---- spec: what the rest of the tutor knows about this tool ---------------------------------------------

from tools.cost import cached as cost_cached, measure, steps_for, training_cost  # noqa: E402
from tools.spec import Cost, Finding, FindingKind, Metric, ParamWord, ToolSpec, Upload  # noqa: E402

# effective FLOP/s of a training step on the 2-core reference machine, and the per-epoch evaluation
# (decoding, NMS and mAP in Python, per test canvas), fitted to bench/experiments.py (quick: 108 s)
CPU_FLOPS = 3.2e11
EVAL_S_PER_IMAGE = 0.01


# Faster R-CNN (region proposals, RoIAlign) is bound by its box head, not by a FLOP count traceable on the meta
# device: seconds per training image at 128 px on the 2-core machine, and per image on the GPU at 416 px
RCNN_CPU_S_PER_IMAGE, RCNN_GPU_S_PER_IMAGE = 0.15, 0.01


@cost_cached
def estimate(cfg: Config) -> Cost:
    import torch

    from tools.registered import train_size

    size = cfg.image_size - cfg.image_size % STRIDE
    n_train = cfg.n_train if cfg.dataset == "canvases" else train_size(cfg.dataset, cfg.dataset_name, cfg.max_images)
    if cfg.model != "centernet":
        images = n_train * cfg.epochs
        cpu = 10.0 + images * RCNN_CPU_S_PER_IMAGE * (size / 128) ** 2
        gpu = 8.0 + images * RCNN_GPU_S_PER_IMAGE * max(1.0, (size / 416) ** 2)
        params = 19_000_000  # MobileNetV2 backbone + RPN + box head
        mem = params * 16 + cfg.batch_size * 3 * size * size * 4 * 60 + n_train * 3 * size * size
        return Cost(cpu_s=round(cpu, 1), gpu_s=round(gpu, 1), parameters=params, memory_bytes=int(mem), steps=images)
    n_test = cfg.n_test if cfg.dataset == "canvases" else max(16, n_train // 4)
    bs = min(cfg.batch_size, n_train)
    in_ch = 1 if cfg.dataset == "canvases" else 3
    m = measure(lambda: build_model(cfg.channels, len(CLASSES), in_ch), lambda: (torch.empty(bs, in_ch, size, size),),
                loss=lambda out: out[0].float().sum() + out[1].float().sum())
    # images + heatmap/regression targets live on the device as float32
    data = (n_train + n_test) * size * size * 4 * (in_ch + len(CLASSES) / 4 + 1)
    return training_cost(m, steps_for(n_train, bs, cfg.epochs), CPU_FLOPS, data_bytes=int(data),
                         fixed_cpu_s=3.0 + cfg.epochs * n_test * EVAL_S_PER_IMAGE, eval_share=0.5)


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
