"""GANs (lecture: «GAN и диффузионные модели», corpus/lectures/16_gan_diffusion.md).

task="curve": the course homework — a generator maps noise to points (x, y) that a
discriminator cannot tell from points on y = sin(x)/x − x/10, x ∈ [−10, 10].
    curve_distance = mean |y_gen − f(x_gen)| over generated points (x_gen clipped to the
    range); x_coverage = share of 20 equal x-bins that received generated points, so a
    collapsed generator sitting on one spot of the curve does not pass.
task="dcgan": a DCGAN on MNIST-family digits (mnist5k by default).
    sample_score = exp(E_x KL(p(y|x) || p(y))) — the Inception-Score idea computed with a
    small CNN trained on the real digits (1 = useless, 10 = confident and diverse);
    sample_confidence = mean max softmax of that classifier on the samples.
The main metric per task is in SPEC.metrics (curve_distance, sample_score).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import Field

from tools.common import (Log, Progress, RunDir, Started, ToolConfig, autocast, finish, null_emit, pick_device,
                          plot_history, plt_figure, seed_everything)

X_RANGE = 10.0


class Config(ToolConfig):
    task: Literal["curve", "dcgan"] = Field("curve", description="curve: 1-D GAN on sin(x)/x − x/10; dcgan: digits.")
    dataset: Literal["mnist5k", "digits", "fashion_mnist", "mnist"] = Field("mnist5k", description="Images for dcgan.")
    epochs: int = Field(200, ge=1, le=5000, description="Passes over the real data.")
    lr: float = Field(5e-4, gt=0, le=1.0, description="Adam learning rate of both networks.")
    batch_size: int = Field(128, ge=8, le=8192, description="Real (and fake) samples per step.")
    latent_dim: int = Field(2, ge=1, le=512, description="Size of the noise vector z (a curve is 1-D: small z trains best).")
    hidden: int = Field(128, ge=8, le=2048, description="Width of the MLPs (curve) / base channels ×2 (dcgan).")
    n_real: int = Field(4096, ge=256, le=1_000_000, description="Real points per epoch (curve task).")
    beta1: float = Field(0.5, ge=0.0, lt=1.0, description="Adam β1 (0.5 is the DCGAN recommendation).")


PRESETS = {
    "smoke": {"task": "curve", "epochs": 3, "n_real": 1024, "batch_size": 256},
    "quick": {},
    "full": {"task": "dcgan", "dataset": "mnist", "epochs": 25, "latent_dim": 100, "hidden": 64, "lr": 2e-4,
             "batch_size": 128},
    # the DCGAN counterpart of quick: ≈40 s on 2 CPU cores, sample_score ≈2.2 (real digits ≈6.6)
    "dcgan": {"task": "dcgan", "epochs": 12, "latent_dim": 64, "hidden": 64, "lr": 5e-4, "batch_size": 64},
}


def curve(x):
    """y = sin(x)/x − x/10 (with the limit 1 at x = 0)."""
    x = np.asarray(x, dtype=np.float64)
    safe = np.where(np.abs(x) < 1e-8, 1.0, x)
    return np.where(np.abs(x) < 1e-8, 1.0, np.sin(safe) / safe) - x / 10.0


def curve_metrics(points: np.ndarray, bins: int = 20) -> dict[str, float]:
    """points (N, 2) in original units -> curve_distance and x_coverage (see module doc)."""
    x = np.clip(points[:, 0], -X_RANGE, X_RANGE)
    dist = float(np.mean(np.abs(points[:, 1] - curve(x))))
    hist, _ = np.histogram(x, bins=bins, range=(-X_RANGE, X_RANGE))
    return {"curve_distance": dist, "x_coverage": float((hist > 0).mean())}


# ---- models -------------------------------------------------------------------------------------------

def mlp(i: int, h: int, o: int):
    import torch.nn as nn

    return nn.Sequential(nn.Linear(i, h), nn.LeakyReLU(0.2), nn.Linear(h, h), nn.LeakyReLU(0.2), nn.Linear(h, o))


def dcgan_nets(latent: int, c: int, out_ch: int):
    import torch.nn as nn

    gen = nn.Sequential(
        nn.Linear(latent, 2 * c * 7 * 7), nn.Unflatten(1, (2 * c, 7, 7)), nn.BatchNorm2d(2 * c), nn.ReLU(True),
        nn.ConvTranspose2d(2 * c, c, 4, 2, 1), nn.BatchNorm2d(c), nn.ReLU(True),  # 7 -> 14
        nn.ConvTranspose2d(c, out_ch, 4, 2, 1), nn.Tanh())  # 14 -> 28, pixels in [-1, 1]
    disc = nn.Sequential(
        nn.Conv2d(out_ch, c, 4, 2, 1), nn.LeakyReLU(0.2, True),  # 28 -> 14
        nn.Conv2d(c, 2 * c, 4, 2, 1), nn.BatchNorm2d(2 * c), nn.LeakyReLU(0.2, True),  # 14 -> 7
        nn.Flatten(), nn.Linear(2 * c * 7 * 7, 1))
    return gen, disc


# ---- training -------------------------------------------------------------------------------------------

def gan_step(gen, disc, opt_g, opt_d, real, latent: int, gen_rng, device):
    """One non-saturating GAN step: D on real vs fake, then G to fool D. Returns losses."""
    import torch
    import torch.nn.functional as F

    b = real.shape[0]
    z = torch.randn(b, latent, generator=gen_rng).to(device)
    fake = gen(z)
    ones, zeros = torch.ones(b, 1, device=device), torch.zeros(b, 1, device=device)
    with autocast(device):
        d_loss = F.binary_cross_entropy_with_logits(disc(real).float(), ones) + \
            F.binary_cross_entropy_with_logits(disc(fake.detach()).float(), zeros)
    opt_d.zero_grad(set_to_none=True)
    d_loss.backward()
    opt_d.step()
    with autocast(device):
        g_loss = F.binary_cross_entropy_with_logits(disc(fake).float(), ones)  # non-saturating: max log D(G(z))
    opt_g.zero_grad(set_to_none=True)
    g_loss.backward()
    opt_g.step()
    return d_loss.item(), g_loss.item()


def run(cfg: Config, emit=null_emit, out_dir: str | Path | None = None):
    import torch

    t0 = time.perf_counter()
    seed_everything(cfg.seed)
    device = pick_device(cfg.device)
    rd = RunDir(out_dir, "gan", emit)
    emit(Started(tool="gan", config=cfg.model_dump(), device=str(device), total_steps=cfg.epochs))
    rng = torch.Generator().manual_seed(cfg.seed)
    if cfg.task == "curve":
        return _run_curve(cfg, emit, rd, device, rng, t0)
    return _run_dcgan(cfg, emit, rd, device, rng, t0)


def _run_curve(cfg, emit, rd, device, rng, t0):
    import torch

    # data scaled to ~unit range: x/10, y as is (y ∈ [-1.2, 1.2])
    scale = torch.tensor([X_RANGE, 1.0], device=device)
    gen, disc = mlp(cfg.latent_dim, cfg.hidden, 2).to(device), mlp(2, cfg.hidden, 1).to(device)
    opt_g = torch.optim.Adam(gen.parameters(), lr=cfg.lr, betas=(cfg.beta1, 0.999))
    opt_d = torch.optim.Adam(disc.parameters(), lr=cfg.lr, betas=(cfg.beta1, 0.999))
    history, snapshots = [], []
    for epoch in range(1, cfg.epochs + 1):
        xs = (torch.rand(cfg.n_real, generator=rng) * 2 - 1) * X_RANGE
        real_all = torch.stack([xs, torch.from_numpy(curve(xs.numpy())).float()], 1).to(device) / scale  # (N, 2)
        dl, gl = [], []
        for i in range(0, cfg.n_real, cfg.batch_size):
            d, g = gan_step(gen, disc, opt_g, opt_d, real_all[i:i + cfg.batch_size], cfg.latent_dim, rng, device)
            dl.append(d)
            gl.append(g)
        pts = _sample_points(gen, 2000, cfg.latent_dim, rng, device, scale)
        m = {"epoch": float(epoch), "d_loss": float(np.mean(dl)), "g_loss": float(np.mean(gl)), **curve_metrics(pts)}
        history.append(m)
        if epoch in {1, max(1, cfg.epochs // 3), max(1, 2 * cfg.epochs // 3), cfg.epochs}:
            snapshots.append((epoch, pts))
        emit(Progress(step=epoch, total=cfg.epochs, unit="epoch", metrics={k: v for k, v in m.items() if k != "epoch"}))
    pts = _sample_points(gen, 5000, cfg.latent_dim, rng, device, scale)
    metrics = curve_metrics(pts)
    xs = np.linspace(-X_RANGE, X_RANGE, 400)
    fig, axes = plt_figure(1, len(snapshots), figsize=(4 * len(snapshots), 3.2))
    for ax, (ep, p) in zip(np.atleast_1d(axes), snapshots):
        ax.plot(xs, curve(xs), "k-", lw=1.5, label="sin(x)/x − x/10")
        ax.scatter(p[:600, 0], p[:600, 1], s=3, alpha=0.5, color="tab:red", label="G(z)")
        ax.set_title(f"epoch {ep}")
        ax.set_xlim(-11, 11)
        ax.set_ylim(-1.6, 1.6)
    np.atleast_1d(axes)[0].legend(fontsize=7)
    rd.save_figure("generated_points.png", fig)
    rd.save_figure("losses.png", plot_history(history, {"losses": ["d_loss", "g_loss"], "quality": ["curve_distance", "x_coverage"]}))
    rd.save_checkpoint("model.pt", {"state_dict": gen.state_dict(), "config": cfg.model_dump()})
    return finish("gan", cfg, emit, rd, metrics, history, device, t0)


def _sample_points(gen, n, latent, rng, device, scale) -> np.ndarray:
    import torch

    with torch.no_grad():
        return (gen(torch.randn(n, latent, generator=rng).to(device)) * scale).float().cpu().numpy()


def _classifier(x, y, device, rng, epochs: int = 8, batch_size: int = 64, lr: float = 3e-3):
    """A small CNN trained on the real images: the judge of sample_score. One-cycle schedule,
    8 epochs: ≈0.97 test accuracy on mnist5k in ~12 s on 2 CPU cores. A weaker judge (0.55
    after 2 epochs) spreads its probabilities and makes every score ≈1, real digits too."""
    import torch
    import torch.nn.functional as F

    from tools.cnn import small_cnn

    clf = small_cnn(x.shape[1], 10, 16, 0.1).to(device)
    opt = torch.optim.Adam(clf.parameters(), lr=lr)
    steps = epochs * ((len(x) + batch_size - 1) // batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, lr, total_steps=steps)
    clf.train()
    for _ in range(epochs):
        order = torch.randperm(len(x), generator=rng).to(device)
        for i in range(0, len(x), batch_size):
            idx = order[i:i + batch_size]
            loss = F.cross_entropy(clf(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    return clf.eval()


def sample_quality(clf, images) -> dict[str, float]:
    import torch

    with torch.no_grad():
        p = torch.softmax(clf(images).float(), 1)  # (N, 10)
    py = p.mean(0, keepdim=True)
    kl = (p * (torch.log(p + 1e-12) - torch.log(py + 1e-12))).sum(1).mean()
    return {"sample_score": float(torch.exp(kl)), "sample_confidence": float(p.max(1).values.mean())}


def _run_dcgan(cfg, emit, rd, device, rng, t0):
    import torch

    from tools.datasets import load_image_dataset

    data = load_image_dataset(cfg.dataset)
    x = data.x_train.to(device).float() / 127.5 - 1.0  # uint8 -> [-1, 1] to match tanh
    if x.shape[-1] != 28:
        x = torch.nn.functional.interpolate(x, size=28, mode="bilinear", align_corners=False)
    y = data.y_train.to(device)
    c = max(8, cfg.hidden // 2)
    gen, disc = dcgan_nets(cfg.latent_dim, c, x.shape[1])
    gen, disc = gen.to(device), disc.to(device)
    opt_g = torch.optim.Adam(gen.parameters(), lr=cfg.lr, betas=(cfg.beta1, 0.999))
    opt_d = torch.optim.Adam(disc.parameters(), lr=cfg.lr, betas=(cfg.beta1, 0.999))
    emit(Log(message="training the judge classifier on real images for sample_score"))
    clf = _classifier(x, y, device, rng)
    fixed_z = torch.randn(64, cfg.latent_dim, generator=rng).to(device)
    history = []
    for epoch in range(1, cfg.epochs + 1):
        gen.train()
        disc.train()
        order = torch.randperm(len(x), generator=rng).to(device)
        dl, gl = [], []
        for i in range(0, len(x), cfg.batch_size):
            d, g = gan_step(gen, disc, opt_g, opt_d, x[order[i:i + cfg.batch_size]], cfg.latent_dim, rng, device)
            dl.append(d)
            gl.append(g)
        gen.eval()
        with torch.no_grad():
            samples = gen(torch.randn(512, cfg.latent_dim, generator=rng).to(device))
        m = {"epoch": float(epoch), "d_loss": float(np.mean(dl)), "g_loss": float(np.mean(gl)), **sample_quality(clf, samples)}
        history.append(m)
        emit(Progress(step=epoch, total=cfg.epochs, unit="epoch", metrics={k: v for k, v in m.items() if k != "epoch"}))
    gen.eval()
    with torch.no_grad():
        metrics = sample_quality(clf, gen(torch.randn(2000, cfg.latent_dim, generator=rng).to(device)))
        # a random subset: the datasets are stored sorted by label, x[:2000] would be digits 0-4 only
        real = torch.randperm(len(x), generator=rng)[:2000].to(device)
        metrics["real_score"] = sample_quality(clf, x[real])["sample_score"]
        grid = gen(fixed_z).float().cpu()
    _save_grid(rd, "samples.png", grid, f"DCGAN samples, epoch {cfg.epochs}")
    rd.save_figure("losses.png", plot_history(history, {"losses": ["d_loss", "g_loss"], "score": ["sample_score"]}))
    rd.save_checkpoint("model.pt", {"state_dict": gen.state_dict(), "config": cfg.model_dump(), "channels": int(x.shape[1])})
    return finish("gan", cfg, emit, rd, metrics, history, device, t0)


def _save_grid(rd_or_path, name, images, title):
    import torchvision

    grid = torchvision.utils.make_grid(images, nrow=8, normalize=True, value_range=(-1, 1)).permute(1, 2, 0).numpy()
    fig, ax = plt_figure(figsize=(6, 6))
    ax.imshow(grid)
    ax.axis("off")
    ax.set_title(title)
    if isinstance(rd_or_path, RunDir):
        return rd_or_path.save_figure(name, fig)
    fig.savefig(Path(rd_or_path) / name, dpi=110, bbox_inches="tight")
    return Path(rd_or_path) / name


def infer(checkpoint: str | Path, inputs: dict | None = None, out_dir: str | Path | None = None) -> dict:
    """{"n": 16, "seed": 0} -> curve: {"points": [[x, y], ...]}; dcgan: {"image": sample grid png}."""
    import torch

    inputs = inputs or {}
    ck = torch.load(checkpoint, map_location="cpu", weights_only=False)
    cfg = Config(**ck["config"])
    n, g = int(inputs.get("n", 16)), torch.Generator().manual_seed(int(inputs.get("seed", 0)))
    if cfg.task == "curve":
        gen = mlp(cfg.latent_dim, cfg.hidden, 2)
        gen.load_state_dict(ck["state_dict"])
        pts = _sample_points(gen.eval(), n, cfg.latent_dim, g, "cpu", torch.tensor([X_RANGE, 1.0]))
        return {"points": pts.tolist(), **curve_metrics(pts)}
    gen, _ = dcgan_nets(cfg.latent_dim, max(8, cfg.hidden // 2), ck["channels"])
    gen.load_state_dict(ck["state_dict"])
    with torch.no_grad():
        imgs = gen.eval()(torch.randn(n, cfg.latent_dim, generator=g))
    out = Path(out_dir or ".")
    out.mkdir(parents=True, exist_ok=True)
    path = _save_grid(out, f"gan-samples-{int(time.time() * 1000)}.png", imgs, "DCGAN samples")
    return {"image": str(path), "n": n}


# ---- spec: what the rest of the tutor knows about this tool ---------------------------------------------

from tools.cost import Measured, cached as cost_cached, measure, steps_for, training_cost  # noqa: E402
from tools.spec import LN2, Cost, Finding, FindingKind, Metric, ParamWord, ToolSpec, near, series  # noqa: E402

IMAGES = {"mnist5k": 4000, "digits": 1437, "fashion_mnist": 60000, "mnist": 60000}
# effective FLOP/s on the 2-core reference machine, fitted to bench/experiments.py (curve quick: 17 s,
# dcgan preset: 51 s incl. the judge classifier); the curve MLPs are bound by per-step overhead
CPU_FLOPS = {"curve": 5e10, "dcgan": 4.3e10}
PER_STEP_CPU_S = {"curve": 1.5e-3, "dcgan": 0.0}


@cost_cached
def estimate(cfg: Config) -> Cost:
    import torch
    import torch.nn as nn

    if cfg.task == "curve":
        gen, disc, z_shape, x_shape, n = (lambda: mlp(cfg.latent_dim, cfg.hidden, 2)), (lambda: mlp(2, cfg.hidden, 1)), \
            (cfg.batch_size, cfg.latent_dim), (cfg.batch_size, 2), cfg.n_real
    else:
        c = max(8, cfg.hidden // 2)
        n = IMAGES[cfg.dataset]
        gen, disc, z_shape, x_shape = (lambda: dcgan_nets(cfg.latent_dim, c, 1)[0]), (lambda: dcgan_nets(cfg.latent_dim, c, 1)[1]), \
            (cfg.batch_size, cfg.latent_dim), (cfg.batch_size, 1, 28, 28)

    class Step(nn.Module):
        """One GAN step: D on a real and a fake batch, G through D."""

        def __init__(self):
            super().__init__()
            self.g, self.d = gen(), disc()

        def forward(self, z, x):
            return self.d(x).sum() + 2 * self.d(self.g(z)).sum()

    m = measure(Step, lambda: (torch.empty(*z_shape), torch.empty(*x_shape)))
    fixed = 2.0 if cfg.task == "curve" else 12.0  # the dcgan judge classifier trains first
    data = n * 28 * 28 * 4 if cfg.task == "dcgan" else 0
    return training_cost(Measured(m.parameters, m.trainable, m.step_flops, m.activation_bytes),
                         steps_for(n, cfg.batch_size, cfg.epochs), CPU_FLOPS[cfg.task], data_bytes=data,
                         fixed_cpu_s=fixed, per_step_cpu_s=PER_STEP_CPU_S[cfg.task])


def findings(result: dict, lang: str) -> list[Finding]:
    """Reading GAN losses: with BCE, D(x)=1/2 everywhere gives d_loss = 2·ln 2 ≈ 1.386 and g_loss =
    ln 2 ≈ 0.693 — the equilibrium where the discriminator cannot tell real from fake."""
    hist = result.get("history") or []
    d, g = series(hist, "d_loss"), series(hist, "g_loss")
    out: list[Finding] = []
    if not d or not g:
        return out
    tail = max(1, len(d) // 5)
    d_end, g_end = sum(d[-tail:]) / tail, sum(g[-tail:]) / tail
    if near(d_end, 2 * LN2, 0.15) and near(g_end, LN2, 0.35):
        out.append(Finding(FindingKind.BALANCED,
                           f"Потери в конце: d_loss ≈ {d_end:.2f}, g_loss ≈ {g_end:.2f} — близко к 2·ln 2 ≈ 1.39 и ln 2 ≈ "
                           "0.69: равновесие, дискриминатор уже не отличает настоящие примеры от сгенерированных "
                           "(D(x) ≈ 0.5). Для GAN это хороший знак, а не «застрявшее» обучение.",
                           f"Final losses: d_loss ≈ {d_end:.2f}, g_loss ≈ {g_end:.2f} — close to 2·ln 2 ≈ 1.39 and ln 2 ≈ "
                           "0.69: the equilibrium where the discriminator cannot tell real from generated samples "
                           "(D(x) ≈ 0.5). For a GAN this is a good sign, not a stalled run."))
    elif d_end < 0.3 and g_end > 2.5:
        out.append(Finding(FindingKind.COLLAPSE,
                           f"d_loss ≈ {d_end:.2f} при g_loss ≈ {g_end:.2f}: дискриминатор побеждает, градиенты генератору "
                           "почти не доходят — риск коллапса мод. Помогают меньший lr дискриминатора, label smoothing.",
                           f"d_loss ≈ {d_end:.2f} with g_loss ≈ {g_end:.2f}: the discriminator wins and the generator gets "
                           "almost no gradient — a risk of mode collapse. A lower discriminator lr or label smoothing help."))
    m = result.get("metrics") or {}
    if "sample_score" in m and "real_score" in m:
        out.append(Finding(FindingKind.NOTE,
                           f"Оценка сэмплов {m['sample_score']:.2f} против {m['real_score']:.2f} у настоящих цифр "
                           "(1.0 — генератор рисует один класс).",
                           f"Sample score {m['sample_score']:.2f} vs {m['real_score']:.2f} for real digits (1.0 means "
                           "the generator draws a single class)."))
    return out


def next_step(result: dict, found: list[Finding], lang: str) -> str | None:
    cfg = result.get("config") or {}
    if cfg.get("task") == "dcgan":
        return f"/run gan task=dcgan epochs={min(5000, int(cfg.get('epochs', 12)) * 2)}"
    if any(f.kind == FindingKind.COLLAPSE for f in found):
        return f"/run gan lr={float(cfg.get('lr', 5e-4)) / 2:.2g}"
    return f"/run gan latent_dim={min(512, int(cfg.get('latent_dim', 2)) * 4)}"


SPEC = ToolSpec(
    name="gan",
    summary="GANs: a 1-D GAN learning y = sin(x)/x - x/10, or a DCGAN on MNIST-family digits.",
    summary_ru="GAN: одномерная GAN учит кривую y = sin(x)/x − x/10, или DCGAN рисует цифры MNIST.",
    theory_query="генеративно-состязательные сети GAN генератор дискриминатор функция потерь равновесие коллапс мод",
    lectures=("lectures/16_gan_diffusion.md",),
    mentions=(r"\bgan\b|\bdcgan\b|\bган\w*\b|\bгэн\b", r"генеративно.?состязательн|состязательн",
              r"generative adversarial", r"sin\(x\)/x|sin x / x"),
    words=(ParamWord("task", r"dcgan|цифр|изображ|image|mnist|digit|картин", "dcgan"),
           ParamWord("task", r"крив|curve|sin|1-?d|одномерн", "curve"),
           ParamWord("latent_dim", r"(?:latent(?:.?dim)?|латентн\w*(?: размерност\w*)?|размерност\w* шума|z.?dim)\s*[:=]?\s*(\d+)"),
           ParamWord("beta1", r"(?:beta1|бета1|β1)\s*[:=]?\s*(\d+(?:[.,]\d+)?)")),
    metrics={"curve": Metric("curve_distance", False, 0.1, "среднее расстояние до кривой", "mean distance to the curve"),
             "dcgan": Metric("sample_score", True, None, "оценка качества сэмплов", "sample score"),
             None: Metric("curve_distance", False, 0.1, "среднее расстояние до кривой", "mean distance to the curve")},
    estimate=estimate,
    loss_keys=None,  # GAN losses are a game, not a curve to minimise: read by findings()
    findings=findings,
    next_step=next_step,
    short_keys=("task", "dataset", "epochs", "lr", "batch_size", "latent_dim", "hidden", "device"),
)
