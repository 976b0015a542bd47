"""Recurrent networks: LSTM / GRU (lectures: «RNN, LSTM, GRU» 11_rnn.md and «Временные ряды» 18_time_series.md).

task="text": topic classification of course passages (tools/textdata.py), or a real text
dataset: a CSV/JSONL registered by the course staff (`dataset_name=NAME`), or the downloaded
IMDB, AG News or RuSentiTweet (presets imdb, ag_news, ru_sentiment for a CPU subset in
minutes; *_gpu for all of it). Embedding (random, or frozen Russian navec vectors) →
(bi)LSTM/GRU → max over time → linear.
With ~600 short training passages the network memorises them within a few epochs, so the
regularisers that matter are word dropout (random words replaced by <unk>, a cheap
augmentation batched on the device) and dropout on the embeddings.
    metric test_accuracy.
task="forecast": one-step-ahead forecasting of a monthly series (statsmodels CO2 Mauna
Loa by default, or sunspots) from a sliding window, chronological split, normalisation
fitted on the training part only. The network predicts the change from the last observed
value; it is compared with the seasonal-naive baseline (the value one season ago).
    metrics rmse and baseline_rmse in the series' units.
The main metric per task is in SPEC.metrics (test_accuracy, rmse).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import Field, model_validator

from tools import registered
from tools.common import (Log, MissingDataError, Progress, RunDir, Started, ToolConfig, finish, null_emit, pick_device,
                          plot_history, plt_figure, seed_everything)

SEASON = {"co2": 12, "sunspots": 11}  # co2: monthly, yearly cycle; sunspots: yearly data, ~11-year cycle
TEXT_DATASETS = ("course", "course_en", "registered", "imdb", "ag_news", "ru_sentiment")
REGISTERED_KIND = "text_classification"
OFFLINE_HINT = "use dataset=course or course_en, or a CSV/JSONL registered by the course staff (dataset_name=NAME, " \
               "GET /v1/datasets)"


class Config(ToolConfig):
    task: Literal["text", "forecast"] = Field("text", description="text: text classification; forecast: time series.")
    dataset: Literal["course", "course_en", "registered", "imdb", "ag_news", "ru_sentiment", "co2", "sunspots"] = Field(
        "course", description="text: course (our Russian lecture notes by topic), course_en (the English ones), "
                              "registered (a CSV/JSONL registered by the course staff, named by dataset_name), imdb, "
                              "ag_news, ru_sentiment (downloaded); forecast: co2 or sunspots.")
    dataset_name: str | None = registered.name_field()
    max_rows: int = Field(0, ge=0, le=10_000_000, description="text: at most this many texts per split (0 = all); "
                                                              "CPU presets train on a subset.")
    cell: Literal["lstm", "gru", "rnn"] = Field("lstm", description="Recurrent cell.")
    hidden: int = Field(96, ge=4, le=2048, description="Hidden state size.")
    layers: int = Field(1, ge=1, le=6, description="Stacked recurrent layers.")
    bidirectional: bool = Field(True, description="Read sequences in both directions (text task).")
    dropout: float = Field(0.5, ge=0.0, le=0.9, description="Dropout before the output layer.")
    embeddings: Literal["random", "navec"] = Field("random", description="Word vectors: trained from scratch or frozen navec.")
    embed_dim: int = Field(128, ge=8, le=1024, description="Embedding size for random embeddings.")
    words: int = Field(45, ge=5, le=500, description="Words per passage cut from the course text (text task).")
    max_len: int = Field(64, ge=4, le=2048, description="Tokens per passage fed to the network (text task).")
    word_dropout: float = Field(0.4, ge=0.0, le=0.9, description="Share of training words replaced by <unk> "
                                                                  "each step (augmentation, text task).")
    embed_dropout: float = Field(0.3, ge=0.0, le=0.9, description="Dropout on word embeddings (text task).")
    window: int = Field(24, ge=2, le=1000, description="Past steps the forecaster sees.")
    epochs: int = Field(40, ge=1, le=1000, description="Passes over the training data.")
    lr: float = Field(3e-3, gt=0, le=1.0, description="Adam learning rate.")
    batch_size: int = Field(32, ge=2, le=8192, description="Sequences per step.")

    @model_validator(mode="before")
    @classmethod
    def _default_dataset_of_the_task(cls, data):
        if isinstance(data, dict) and data.get("task") == "forecast" and "dataset" not in data:
            data = {**data, "dataset": "co2"}  # "прогноз временного ряда" without a series: CO2
        return registered.default_to_registered(data)

    @model_validator(mode="after")
    def _dataset_fits_task(self):
        registered.check_choice(self)
        if self.task == "forecast" and self.dataset not in SEASON:
            raise ValueError(f"task=forecast uses dataset=co2 or sunspots, not {self.dataset}")
        if self.task == "text" and self.dataset not in TEXT_DATASETS:
            raise ValueError(f"task=text uses dataset={', '.join(TEXT_DATASETS)}, not {self.dataset}")
        return self


_REAL_CPU = {"epochs": 6, "max_len": 160, "word_dropout": 0.2, "embed_dropout": 0.2, "batch_size": 64}
_REAL_GPU = {"epochs": 10, "max_len": 400, "word_dropout": 0.1, "embed_dropout": 0.2, "hidden": 256, "embed_dim": 256,
             "layers": 2, "batch_size": 256, "max_rows": 0}
PRESETS = {
    "smoke": {"epochs": 1, "hidden": 16, "embed_dim": 16},
    "quick": {},
    "full": {"epochs": 80, "hidden": 256, "layers": 2, "embed_dim": 256, "batch_size": 64},
    "imdb": {**_REAL_CPU, "dataset": "imdb", "max_rows": 4000},
    "imdb_gpu": {**_REAL_GPU, "dataset": "imdb"},
    "ag_news": {**_REAL_CPU, "dataset": "ag_news", "max_rows": 8000, "max_len": 48},
    "ag_news_gpu": {**_REAL_GPU, "dataset": "ag_news", "max_len": 64},
    "ru_sentiment": {**_REAL_CPU, "dataset": "ru_sentiment", "embeddings": "navec", "max_len": 48},
    "ru_sentiment_gpu": {**_REAL_GPU, "dataset": "ru_sentiment", "embeddings": "navec", "max_len": 64},
}


def build_rnn(cell: str, inp: int, hidden: int, layers: int, bidirectional: bool):
    import torch.nn as nn

    cls = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}[cell]
    return cls(inp, hidden, num_layers=layers, batch_first=True, bidirectional=bidirectional)


def build_text_model(cfg: Config, vocab_size: int, n_classes: int, emb_matrix=None):
    import torch
    import torch.nn as nn

    class TextRNN(nn.Module):
        def __init__(self):
            super().__init__()
            if emb_matrix is not None:
                self.emb = nn.Embedding.from_pretrained(torch.from_numpy(emb_matrix), freeze=True, padding_idx=0)
            else:
                self.emb = nn.Embedding(vocab_size, cfg.embed_dim, padding_idx=0)
            self.rnn = build_rnn(cfg.cell, self.emb.embedding_dim, cfg.hidden, cfg.layers, cfg.bidirectional)
            self.emb_drop = nn.Dropout(cfg.embed_dropout)
            self.drop = nn.Dropout(cfg.dropout)
            self.out = nn.Linear(cfg.hidden * (2 if cfg.bidirectional else 1), n_classes)

        def forward(self, ids):  # ids (B, T)
            pad = (ids == 0).unsqueeze(-1)  # (B, T, 1): padding never wins the max
            h, _ = self.rnn(self.emb_drop(self.emb(ids)))  # (B, T, H*dirs)
            # max over time: a topic shows in a few telling words, wherever they stand
            pooled = h.masked_fill(pad, -1e4).max(1).values  # (B, H*dirs)
            return self.out(self.drop(pooled))

    return TextRNN()


def build_forecaster(cfg: Config):
    import torch.nn as nn

    class Forecaster(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = build_rnn(cfg.cell, 1, cfg.hidden, cfg.layers, False)
            self.out = nn.Linear(cfg.hidden, 1)

        def forward(self, x):  # x (B, window, 1)
            h, _ = self.rnn(x)
            return self.out(h[:, -1]).squeeze(-1)  # last time step -> (B,)

    return Forecaster()


def load_series(name: str) -> np.ndarray:
    try:
        import statsmodels.api as sm
    except ImportError as e:
        raise MissingDataError("forecasting needs `pip install statsmodels` (it ships the co2 and sunspots series)") from e
    if name == "co2":
        df = sm.datasets.co2.load_pandas().data
        s = df["co2"].resample("MS").mean().interpolate()  # weekly with gaps -> monthly, filled
        return s.to_numpy(dtype=np.float64)
    if name == "sunspots":
        return sm.datasets.sunspots.load_pandas().data["SUNACTIVITY"].to_numpy(dtype=np.float64)
    raise MissingDataError(f"unknown series '{name}'; use co2 or sunspots")


def seasonal_naive(series: np.ndarray, start: int, season: int) -> np.ndarray:
    """Forecast for t in [start, len): the value observed `season` steps earlier."""
    return series[start - season: len(series) - season]


def run(cfg: Config, emit=null_emit, out_dir: str | Path | None = None):
    t0 = time.perf_counter()
    seed_everything(cfg.seed)
    device = pick_device(cfg.device)
    rd = RunDir(out_dir, "rnn", emit)
    emit(Started(tool="rnn", config=cfg.model_dump(), device=str(device), total_steps=cfg.epochs))
    if cfg.task == "text":
        return _run_text(cfg, emit, rd, device, t0)
    return _run_forecast(cfg, emit, rd, device, t0)


def _batches(n, bs, gen, device):
    import torch

    order = torch.randperm(n, generator=gen).to(device)
    for i in range(0, n, bs):
        yield order[i:i + bs]


def _run_text(cfg, emit, rd, device, t0):
    import torch
    import torch.nn.functional as F

    from tools.textdata import Vocab, load_text_task, navec_matrix

    data = load_text_task(cfg.dataset, cfg.words, cfg.seed, cfg.dataset_name, cfg.max_rows, OFFLINE_HINT)
    # navec has vectors for whole words; trained-from-scratch embeddings learn better from stems
    vocab = Vocab([t for t, _ in data.train], stem=cfg.embeddings != "navec")
    emb = navec_matrix(vocab) if cfg.embeddings == "navec" else None
    emit(Log(message=f"{len(data.train)}/{len(data.val)}/{len(data.test)} passages, {len(data.classes)} topics, "
                     f"vocabulary {len(vocab)}"))

    def tensors(rows):
        x = torch.tensor([vocab.encode(t, cfg.max_len) for t, _ in rows], dtype=torch.long, device=device)
        return x, torch.tensor([y for _, y in rows], dtype=torch.long, device=device)

    (x_tr, y_tr), (x_va, y_va), (x_te, y_te) = tensors(data.train), tensors(data.val), tensors(data.test)
    model = build_text_model(cfg, len(vocab), len(data.classes), emb).to(device)
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=cfg.lr)
    gen = torch.Generator().manual_seed(cfg.seed)

    def accuracy(x, y):
        model.eval()
        with torch.no_grad():
            out = model(x)
        return float((out.argmax(1) == y).float().mean()), float(F.cross_entropy(out, y)), out.argmax(1)

    history, best = [], (-1.0, 0.0, None)  # (val accuracy, -val loss, weights) of the best epoch
    for epoch in range(1, cfg.epochs + 1):
        model.train()
        tot = 0.0
        for idx in _batches(len(x_tr), cfg.batch_size, gen, device):
            x = x_tr[idx]  # (B, T)
            if cfg.word_dropout:  # word dropout: hide random real words behind <unk> (id 1)
                drop = torch.rand(x.shape, generator=gen).to(device) < cfg.word_dropout
                x = x.masked_fill(drop & (x > 1), 1)
            loss = F.cross_entropy(model(x), y_tr[idx])
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)  # RNNs: guard against exploding gradients
            opt.step()
            tot += loss.item() * len(idx)
        va, vl, _ = accuracy(x_va, y_va)
        if (va, -vl) > best[:2]:  # model selection on the validation split only: test stays untouched
            best = (va, -vl, {k: v.detach().clone() for k, v in model.state_dict().items()})
        m = {"epoch": float(epoch), "train_loss": tot / len(x_tr), "val_loss": vl, "val_accuracy": va}
        history.append(m)
        emit(Progress(step=epoch, total=cfg.epochs, unit="epoch", metrics={k: v for k, v in m.items() if k != "epoch"}))
    model.load_state_dict(best[2])
    best_epoch = next(int(h["epoch"]) for h in history if h["val_accuracy"] == best[0] and -h["val_loss"] == best[1])
    emit(Log(message=f"keeping the weights of epoch {best_epoch} (best validation accuracy {best[0]:.3f})"))
    acc, loss, pred = accuracy(x_te, y_te)
    k = len(data.classes)
    cm = np.zeros((k, k), int)
    for t, p in zip(y_te.cpu().numpy(), pred.cpu().numpy()):
        cm[t, p] += 1
    fig, ax = plt_figure(figsize=(4.5, 4))
    ax.imshow(cm, cmap="Blues")
    for i in range(k):
        for j in range(k):
            ax.text(j, i, cm[i, j], ha="center", va="center", fontsize=8)
    ax.set_xticks(range(k), data.classes, rotation=45)
    ax.set_yticks(range(k), data.classes)
    ax.set_title(f"test accuracy {acc:.3f}")
    rd.save_figure("confusion_matrix.png", fig)
    rd.save_figure("learning_curves.png", plot_history(history, {"loss": ["train_loss", "val_loss"], "accuracy": ["val_accuracy"]}))
    rd.save_checkpoint("model.pt", {"state_dict": model.state_dict(), "config": cfg.model_dump(), "classes": data.classes,
                                    "itos": vocab.itos, "navec": emb is not None})
    return finish("rnn", cfg, emit, rd, {"test_accuracy": acc, "test_loss": loss, "best_epoch": float(best_epoch)},
                  history, device, t0)


def _run_forecast(cfg, emit, rd, device, t0):
    import torch
    import torch.nn.functional as F

    name = cfg.dataset
    series = load_series(name)
    season = SEASON[name]
    split = int(len(series) * 0.8)
    mu, sd = series[:split].mean(), series[:split].std()  # fitted on the training part only
    z = (series - mu) / sd
    w = cfg.window
    idx = np.arange(w, len(series))
    x = np.stack([z[i - w:i] for i in idx])[:, :, None].astype(np.float32)  # (N, window, 1)
    y = (z[idx] - z[idx - 1]).astype(np.float32)  # target: change from the last observed value
    train = idx < split
    x_tr, y_tr = torch.from_numpy(x[train]).to(device), torch.from_numpy(y[train]).to(device)
    x_te = torch.from_numpy(x[~train]).to(device)
    model = build_forecaster(cfg).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    gen = torch.Generator().manual_seed(cfg.seed)
    history = []
    n_val = max(1, int(0.1 * len(x_tr)))  # the last 10% of the training period validates
    for epoch in range(1, cfg.epochs + 1):
        model.train()
        tot = 0.0
        for b in _batches(len(x_tr) - n_val, cfg.batch_size, gen, device):
            loss = F.mse_loss(model(x_tr[b]), y_tr[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
            tot += loss.item() * len(b)
        model.eval()
        with torch.no_grad():
            vl = float(F.mse_loss(model(x_tr[-n_val:]), y_tr[-n_val:]))
        m = {"epoch": float(epoch), "train_loss": tot / (len(x_tr) - n_val), "val_loss": vl}
        history.append(m)
        emit(Progress(step=epoch, total=cfg.epochs, unit="epoch", metrics={k: v for k, v in m.items() if k != "epoch"}))
    model.eval()
    with torch.no_grad():
        delta = model(x_te).cpu().numpy()
    test_idx = idx[~train]
    pred = (z[test_idx - 1] + delta) * sd + mu
    truth = series[test_idx]
    base = seasonal_naive(series, int(test_idx[0]), season)
    rmse = float(np.sqrt(np.mean((pred - truth) ** 2)))
    baseline = float(np.sqrt(np.mean((base - truth) ** 2)))
    metrics = {"rmse": rmse, "baseline_rmse": baseline, "mae": float(np.mean(np.abs(pred - truth)))}
    fig, ax = plt_figure(figsize=(9, 3.5))
    ax.plot(np.arange(len(series)), series, color="grey", lw=0.8, label="series")
    ax.plot(test_idx, pred, color="tab:red", lw=1, label=f"{cfg.cell.upper()} (RMSE {rmse:.3g})")
    ax.plot(test_idx, base, color="tab:blue", lw=1, ls="--", label=f"seasonal naive (RMSE {baseline:.3g})")
    ax.axvline(split, color="k", ls=":")
    ax.set_xlim(max(0, split - 3 * season * 4), len(series))
    ax.legend()
    ax.set_title(f"{name}: one-step-ahead forecast on the test period")
    rd.save_figure("forecast.png", fig)
    rd.save_figure("learning_curves.png", plot_history(history, {"loss": ["train_loss", "val_loss"]}))
    rd.save_checkpoint("model.pt", {"state_dict": model.state_dict(), "config": cfg.model_dump(), "mu": mu, "sd": sd,
                                    "series": name})
    return finish("rnn", cfg, emit, rd, metrics, history, device, t0)


def infer(checkpoint: str | Path, inputs, out_dir: str | Path | None = None) -> dict:
    """text task: {"text"} or str -> {"label", "probs"}; forecast: {"steps": n} -> next n values."""
    import torch

    from tools.textdata import Vocab

    ck = torch.load(checkpoint, map_location="cpu", weights_only=False)
    cfg = Config(**ck["config"])
    if cfg.task == "text":
        text = inputs if isinstance(inputs, str) else (inputs or {}).get("text", "")
        vocab = Vocab([], stem=not ck["navec"])
        vocab.itos = ck["itos"]
        vocab.stoi = {w: i for i, w in enumerate(vocab.itos)}
        emb = np.zeros((len(vocab.itos), 300), np.float32) if ck["navec"] else None
        model = build_text_model(cfg, len(vocab.itos), len(ck["classes"]), emb)
        model.load_state_dict(ck["state_dict"])
        with torch.no_grad():
            p = torch.softmax(model.eval()(torch.tensor([vocab.encode(text, cfg.max_len)])), 1)[0]
        k = int(p.argmax())
        return {"label": ck["classes"][k], "probs": {c: float(v) for c, v in zip(ck["classes"], p)}}
    steps = int((inputs or {}).get("steps", 12)) if isinstance(inputs, dict) else 12
    series = load_series(ck["series"])
    model = build_forecaster(cfg)
    model.load_state_dict(ck["state_dict"])
    z = list((series - ck["mu"]) / ck["sd"])
    out = []
    with torch.no_grad():
        for _ in range(steps):  # recursive multi-step: feed each forecast back in
            x = torch.tensor(z[-cfg.window:], dtype=torch.float32)[None, :, None]
            nxt = z[-1] + float(model.eval()(x))
            z.append(nxt)
            out.append(nxt * ck["sd"] + ck["mu"])
    return {"forecast": out, "series": ck["series"]}


# ---- spec: what the rest of the tutor knows about this tool ---------------------------------------------

from tools.cost import cached as cost_cached, measure, steps_for, training_cost  # noqa: E402
from tools.spec import Cost, Finding, FindingKind, Metric, ParamWord, ToolSpec, Upload  # noqa: E402

# passages (train) and vocabulary of the built-in text sets; points of the series
TEXT_SIZES = {"course": (253, 6000), "course_en": (286, 5000)}
SERIES_POINTS = {"co2": 526, "sunspots": 309}
# effective FLOP/s of a training step on the 2-core reference machine, fitted to bench/experiments.py
# (text quick: 9 s, forecast quick: 4 s): recurrent steps are sequential, far below dense-matmul rates
CPU_FLOPS = {"text": 1.05e11, "forecast": 3.2e10}


@cost_cached
def estimate(cfg: Config) -> Cost:
    import torch

    if cfg.task == "forecast":
        n = int((SERIES_POINTS.get(cfg.dataset, 526) - cfg.window) * 0.8)
        bs = min(cfg.batch_size, n)
        m = measure(lambda: build_forecaster(cfg), lambda: (torch.empty(bs, cfg.window, 1),))
        return training_cost(m, steps_for(n, bs, cfg.epochs), CPU_FLOPS["forecast"], fixed_cpu_s=1.0)
    from tools.registered import train_size

    n, vocab = TEXT_SIZES.get(cfg.dataset, (0, 20000))
    n = train_size(cfg.dataset, cfg.dataset_name, cfg.max_rows, default=n or 2000)
    bs = min(cfg.batch_size, n)
    m = measure(lambda: build_text_model(cfg, vocab, 5), lambda: (torch.zeros(bs, cfg.max_len, dtype=torch.long),))
    return training_cost(m, steps_for(n, bs, cfg.epochs), CPU_FLOPS["text"], fixed_cpu_s=2.0)


def findings(result: dict, lang: str) -> list[Finding]:
    m = result.get("metrics") or {}
    if "rmse" in m and "baseline_rmse" in m:
        r, b = m["rmse"], m["baseline_rmse"]
        if r < b:
            return [Finding(FindingKind.BASELINE, f"RMSE {r:.3g} против {b:.3g} у сезонного наивного прогноза: модель "
                                                  f"на {1 - r / b:.0%} точнее базового решения.",
                            f"RMSE {r:.3g} vs {b:.3g} for the seasonal-naive forecast: the model is {1 - r / b:.0%} "
                            "better than the baseline.")]
        return [Finding(FindingKind.BASELINE, f"RMSE {r:.3g} не лучше сезонного наивного прогноза ({b:.3g}): сеть пока не "
                                              "выучила ничего сверх сезонности.",
                        f"RMSE {r:.3g} is no better than the seasonal-naive forecast ({b:.3g}): the network has not "
                        "learnt more than the season yet.")]
    return []


def next_step(result: dict, found: list[Finding], lang: str) -> str | None:
    cfg = result.get("config") or {}
    kinds = {f.kind for f in found}
    if cfg.get("task") == "forecast":
        return f"/run rnn task=forecast window={min(1000, int(cfg.get('window', 24)) * 2)}"
    if kinds & {FindingKind.OVERFIT, FindingKind.GAP}:
        return f"/run rnn dropout={min(0.9, float(cfg.get('dropout', 0.5)) + 0.2):.1f}"
    other = "gru" if cfg.get("cell", "lstm") == "lstm" else "lstm"
    return f"/run rnn cell={other}"


SPEC = ToolSpec(
    name="rnn",
    summary="LSTM/GRU: course-text topic classification, or time-series forecasting against a seasonal-naive "
            "baseline.",
    summary_ru="LSTM/GRU: классификация тем курсовых текстов или прогноз временного ряда против сезонного наивного "
               "прогноза.",
    theory_query="рекуррентные нейронные сети LSTM GRU затухающий градиент временные ряды",
    lectures=("lectures/11_rnn.md", "lectures/18_time_series.md"),
    mentions=(r"\brnn\b|\blstm\b|\bgru\b|\bрнн\b|лстм", r"рекуррент", r"recurrent", r"временн\w* ряд|прогноз",
              r"time.?series|forecast", r"\bco2\b|sunspot|солнечн\w* пят"),
    words=(ParamWord("task", r"прогноз|временн\w* ряд|time.?series|forecast|co2|sunspot|солнечн", "forecast"),
           ParamWord("dataset", r"sunspot|солнечн", "sunspots"),
           ParamWord("dataset", r"\bco2\b", "co2"),
           ParamWord("task", r"текст|text|классиф|тем[аыу]\b", "text"),
           ParamWord("cell", r"\blstm\b|лстм", "lstm"),
           ParamWord("cell", r"\bgru\b", "gru"),
           ParamWord("embeddings", r"navec|предобученн\w* (эмбеддинг|вектор)|pretrained (embedding|vector)", "navec"),
           ParamWord("bidirectional", r"однонаправлен|unidirectional|не двунаправлен", False),
           ParamWord("hidden", r"(?:hidden(?: size)?|скрыт\w*(?: состояни\w*)?|нейрон\w*)\s*[:=]?\s*(\d+)"),
           ParamWord("layers", r"(\d+)\s*(?:сло\w*|layers?)"),
           ParamWord("window", r"(?:окн\w*|window)\s*[:=]?\s*(\d+)"),
           ParamWord("dropout", r"(?:dropout|дропаут\w*)\s*[:=]?\s*(\d+(?:[.,]\d+)?)")),
    metrics={"text": Metric("test_accuracy", True, 0.8, "точность на тесте", "test accuracy"),
             "forecast": Metric("rmse", False, None, "RMSE", "RMSE"),
             None: Metric("test_accuracy", True, 0.8, "точность на тесте", "test accuracy")},
    estimate=estimate,
    upload=Upload.TEXT,
    findings=findings,
    next_step=next_step,
    short_keys=("task", "dataset", "cell", "epochs", "lr", "batch_size", "hidden", "device"),
)
