"""Text datasets built from the course's own materials (generic helper for rnn and transformer).

No text-classification corpus ships offline (no IMDB, no AG News), so the task is topic
classification of course passages: the project's lecture notes (corpus/lectures/*.md)
are cut into passages of ~`words` words, each labelled with the coarse topic of its
lecture (cv / nlp / generative / rl / basics). Windows do not overlap, so no text is
shared between the train, validation and test passages.
`dataset="course_en"` does the same with the English lecture notes (corpus/lectures_en/),
for English-only encoders such as the packaged MiniLM.
`load_text_task` also serves the real datasets: `registered` (a CSV/JSONL registered by the
course staff, tools/registered.py) and the downloaded `imdb`, `ag_news`, `ru_sentiment`
(tools/online.py).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tools.common import MissingDataError

TOPICS = {
    "basics": ["ml_basics", "gradient", "mlp", "optimization", "regularization", "explainab"],
    "cv": ["cnn", "architect", "transfer", "augment", "detection", "segmentation", "metric_learning"],
    "nlp": ["rnn", "embedding", "token", "seq2seq", "attention", "transformer", "time_series"],
    "generative": ["autoencoder", "vae", "gan", "diffusion"],
    "rl": ["rl", "dqn", "reinforcement"],
}
_WORD = re.compile(r"[a-zа-яё0-9]+", re.IGNORECASE)


@dataclass
class TextData:
    train: list[tuple[str, int]]
    val: list[tuple[str, int]]
    test: list[tuple[str, int]]
    classes: list[str]


def topic_of(filename: str) -> str | None:
    stem = Path(filename).stem.lower()
    for topic, keys in TOPICS.items():
        if any(k in stem for k in keys):
            return topic
    return None


def corpus_dir(language: str = "ru") -> Path:
    from tutor.settings import PROJECT_ROOT

    return PROJECT_ROOT / "corpus" / ("lectures_en" if language == "en" else "lectures")


def _sections(text: str) -> list[str]:
    parts = re.split(r"\n(?=#{1,3} )", text)
    return [re.sub(r"```.*?```", " ", p, flags=re.S) for p in parts if len(p.split()) > 15]


def passages(text: str, words: int, stride: int) -> list[str]:
    toks = text.split()
    if len(toks) <= words:
        return [" ".join(toks)]
    return [" ".join(toks[i:i + words]) for i in range(0, len(toks) - words // 2, stride)]


REAL_TEXT = ("registered", "imdb", "ag_news", "ru_sentiment")


def load_text_task(dataset: str, words: int, seed: int, dataset_name: str | None = None, max_rows: int = 0,
                   hint: str = "use dataset=course or course_en") -> TextData:
    """Any text-classification dataset of the tools, capped at max_rows per split (0 = all)."""
    if dataset == "registered":
        from tools.registered import load_text

        return load_text(dataset_name, seed, max_rows)
    if dataset in REAL_TEXT:
        from tools.online import hf_text

        return hf_text(dataset, seed, max_rows, hint)
    from tools.registered import cap

    d = load_text_dataset(dataset, words=words, seed=seed)
    return TextData(cap(d.train, max_rows, seed), cap(d.val, max_rows, seed), cap(d.test, max_rows, seed), d.classes)


def load_text_dataset(dataset: str = "course", words: int = 20, seed: int = 0) -> TextData:
    groups: list[tuple[list[str], str]] = []  # (passages of one section, label)
    if dataset in ("course", "course_en"):
        root = corpus_dir("en" if dataset == "course_en" else "ru")
        files = sorted(root.glob("*.md")) if root.exists() else []
        if dataset == "course" and files:  # the Russian tool pages add labelled text too
            files += sorted((root.parent / "tools").glob("*.md"))
        for f in files:
            topic = topic_of(f.name)
            if topic is None:
                continue
            for sec in _sections(f.read_text(encoding="utf-8")):
                # non-overlapping windows: no text is shared between train and test passages
                groups += [([p], topic) for p in passages(sec, words, words)]
    else:
        raise MissingDataError(f"unknown text dataset '{dataset}'; use course or course_en (or {', '.join(REAL_TEXT)})")
    n = sum(len(g) for g, _ in groups)
    labels = sorted({lb for _, lb in groups})
    if n < 100 or len(labels) < 2:
        raise MissingDataError(f"too little text to train on ({n} passages, {len(labels)} classes): the project's "
                               f"lecture notes (corpus/) are missing or nearly empty")
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(groups))
    split: dict[str, list[tuple[str, int]]] = {"train": [], "val": [], "test": []}
    # stratified by label at the group level: 70 / 10 / 20
    by_label: dict[str, list[int]] = {}
    for gi in order:
        by_label.setdefault(groups[gi][1], []).append(int(gi))
    for lb, gis in by_label.items():
        n_g = len(gis)
        n_test, n_val = max(1, round(0.2 * n_g)), max(1, round(0.1 * n_g))
        for j, gi in enumerate(gis):
            part = "test" if j < n_test else "val" if j < n_test + n_val else "train"
            split[part] += [(p, labels.index(lb)) for p in groups[gi][0]]
    return TextData(split["train"], split["val"], split["test"], labels)


def tokenize(text: str, stem: bool = True) -> list[str]:
    """Stemmed words without stop words: Russian morphology multiplies word forms
    («сеть», «сети», «сетью»), and with a few hundred passages every form counts.
    stem=False keeps whole lower-cased words (for pretrained word vectors like navec)."""
    if not stem:
        return _WORD.findall(text.lower().replace("ё", "е"))
    from index.bm25 import tokenize as stemmed

    return stemmed(text)


class Vocab:
    def __init__(self, texts: list[str], min_freq: int = 1, max_size: int = 20000, stem: bool = True) -> None:
        self.stem = stem
        counts = Counter(t for s in texts for t in tokenize(s, stem))
        words = [w for w, c in counts.most_common(max_size) if c >= min_freq]
        self.itos = ["<pad>", "<unk>"] + words
        self.stoi = {w: i for i, w in enumerate(self.itos)}

    def __len__(self) -> int:
        return len(self.itos)

    def encode(self, text: str, max_len: int) -> list[int]:
        ids = [self.stoi.get(t, 1) for t in tokenize(text, self.stem)][:max_len]
        return ids + [0] * (max_len - len(ids))


def navec_matrix(vocab: Vocab):
    """(len(vocab), 300) matrix of navec vectors (Russian), zeros for unknown words."""
    try:
        import importlib.util

        from navec import Navec
    except ImportError as e:
        raise MissingDataError("embeddings=navec needs `pip install navec` and the natasha package (its vectors)") from e
    spec = importlib.util.find_spec("natasha")
    if spec is None:
        raise MissingDataError("embeddings=navec needs `pip install --no-deps natasha` (it ships the navec vectors)")
    tars = list(Path(list(spec.submodule_search_locations)[0]).rglob("navec*.tar"))
    if not tars:
        raise MissingDataError("navec vectors not found inside the natasha package")
    nv = Navec.load(str(tars[0]))
    mat = np.zeros((len(vocab), 300), np.float32)
    for i, w in enumerate(vocab.itos):
        if w in nv:
            mat[i] = nv[w]
    return mat
