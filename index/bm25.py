"""BM25 over a sparse term matrix, with Russian and English stemming.

Tokens are lower-cased words (ё folded to е); Cyrillic tokens go through the Russian
Snowball stemmer, Latin ones through the English one, so «свёрточные», «свёрточной»
and «свертка» meet at one stem and "networks"/"network" too. Scores are precomputed per
(document, term) in a CSC matrix: a query sums a handful of columns, which stays in
single-digit milliseconds at 100k chunks.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path

import numpy as np
from scipy import sparse

_TOKEN = re.compile(r"[0-9a-zа-яё]+(?:[-'][0-9a-zа-яё]+)*", re.IGNORECASE)
_CYR = re.compile(r"[а-я]")

STOPWORDS = frozenset(
    """и в во не что он на я с со как а то все она так его но да ты к у же вы за бы по только ее мне было вот
    от меня еще нет о из ему теперь когда даже ну вдруг ли если уже или ни быть был него до вас нибудь опять уж
    вам ведь там потом себя ничего ей может они тут где есть надо ней для мы тебя их чем была сам чтоб без будто
    чего раз тоже себе под будет ж тогда кто этот того потому этого какой совсем ним здесь этом один почти мой тем
    чтобы нее сейчас были куда зачем всех никогда можно при наконец два об другой хоть после над больше тот через
    эти нас про всего них какая много разве три эту моя впрочем хорошо свою этой перед иногда лучше чуть том нельзя
    такой им более всегда конечно всю между это как такое каков такие также
    a an the and or but if of to in on at by for with from is are was were be been being it its this that these
    those as into than then so such can could will would should do does did how what which who whom why when where
    i you he she we they me my your our their there here not no yes""".split()
)


@lru_cache(maxsize=1)
def _stemmers():
    try:
        import Stemmer  # PyStemmer: C implementation, ~10x faster

        return Stemmer.Stemmer("russian").stemWord, Stemmer.Stemmer("english").stemWord
    except ImportError:  # pragma: no cover - pure-python fallback
        import snowballstemmer

        ru, en = snowballstemmer.stemmer("russian"), snowballstemmer.stemmer("english")
        return ru.stemWord, en.stemWord


# Ordinal words ("второе задание", "third lesson") meet the digits used in headings ("Задание 2")
_ORDINALS = {"перв": "1", "втор": "2", "трет": "3", "четверт": "4", "пят": "5", "шест": "6", "седьм": "7",
             "восьм": "8", "девят": "9", "десят": "10", "first": "1", "second": "2", "third": "3", "fourth": "4",
             "fifth": "5", "sixth": "6", "seventh": "7", "eighth": "8", "ninth": "9", "tenth": "10"}


@lru_cache(maxsize=200_000)
def _stem(tok: str) -> str:
    ru, en = _stemmers()
    stem = ru(tok) if _CYR.search(tok) else en(tok)
    return _ORDINALS.get(stem, stem)


def tokenize(text: str) -> list[str]:
    """Lower-cased, ё-folded, stemmed tokens without stop words."""
    out = []
    for m in _TOKEN.finditer(text.lower().replace("ё", "е")):
        tok = m.group(0)
        if tok in STOPWORDS:
            continue
        out.append(_stem(tok))
        if "-" in tok:  # "mini-batch" also matches "batch"
            out.extend(_stem(p) for p in tok.split("-") if p and p not in STOPWORDS)
    return out


class BM25:
    def __init__(self, matrix: sparse.csc_matrix, vocab: dict[str, int], k1: float = 1.5, b: float = 0.75):
        self.matrix = matrix  # (n_docs, n_terms) precomputed BM25 term weights
        self.vocab = vocab
        self.k1, self.b = k1, b

    @classmethod
    def build(cls, texts: list[str], k1: float = 1.5, b: float = 0.75) -> "BM25":
        vocab: dict[str, int] = {}
        rows, cols, tfs = [], [], []
        lengths = np.zeros(len(texts), dtype=np.float32)
        for i, text in enumerate(texts):
            toks = tokenize(text)
            lengths[i] = len(toks)
            counts: dict[int, int] = {}
            for t in toks:
                j = vocab.setdefault(t, len(vocab))
                counts[j] = counts.get(j, 0) + 1
            rows.extend([i] * len(counts))
            cols.extend(counts.keys())
            tfs.extend(counts.values())
        n = len(texts)
        tf = np.asarray(tfs, dtype=np.float32)
        rows_a = np.asarray(rows, dtype=np.int64)
        cols_a = np.asarray(cols, dtype=np.int64)
        df = np.bincount(cols_a, minlength=len(vocab)).astype(np.float32)
        idf = np.log1p((n - df + 0.5) / (df + 0.5))  # always positive (Lucene's variant)
        avgdl = float(lengths.mean()) if n else 1.0
        norm = k1 * (1 - b + b * lengths[rows_a] / max(avgdl, 1e-9))
        weights = idf[cols_a] * tf * (k1 + 1) / (tf + norm)
        matrix = sparse.csc_matrix((weights, (rows_a, cols_a)), shape=(n, len(vocab)), dtype=np.float32)
        return cls(matrix, vocab, k1, b)

    def scores(self, query: str, extra: str = "", extra_weight: float = 0.5) -> np.ndarray:
        """BM25 of every document. `extra` terms (an expansion: the Russian glossary forms of an
        English query's words) count `extra_weight` each: they help a Russian passage answer an
        English question without outscoring the English passage that uses the question's own words."""
        from index.glossary import expand_query

        expanded = expand_query(query)
        extra = f"{expanded[len(query):]} {extra}".strip()
        cols = [self.vocab[t] for t in tokenize(query) if t in self.vocab]
        extra_cols = [self.vocab[t] for t in tokenize(extra) if t in self.vocab]
        if not cols and not extra_cols:
            return np.zeros(self.matrix.shape[0], dtype=np.float32)
        # repeated query terms count once per occurrence, as in classic BM25
        out = np.asarray(self.matrix[:, cols].sum(axis=1)).ravel() if cols else 0.0
        if extra_cols:
            out = out + extra_weight * np.asarray(self.matrix[:, extra_cols].sum(axis=1)).ravel()
        return np.asarray(out, dtype=np.float32)

    def top(self, query: str, k: int, extra: str = "") -> list[tuple[int, float]]:
        s = self.scores(query, extra)
        if not s.any():
            return []
        k = min(k, int((s > 0).sum()))
        idx = np.argpartition(-s, k - 1)[:k]
        idx = idx[np.argsort(-s[idx], kind="stable")]
        return [(int(i), float(s[i])) for i in idx]

    def save(self, directory: Path) -> None:
        sparse.save_npz(directory / "bm25.npz", self.matrix.tocsc())
        (directory / "bm25_vocab.json").write_text(
            json.dumps({"k1": self.k1, "b": self.b, "vocab": self.vocab}, ensure_ascii=False)
        )

    @classmethod
    def load(cls, directory: Path) -> "BM25":
        meta = json.loads((directory / "bm25_vocab.json").read_text())
        return cls(sparse.load_npz(directory / "bm25.npz").tocsc(), meta["vocab"], meta["k1"], meta["b"])
