"""Cross-lingual query expansion for BM25: English course terms → their Russian forms.

The course text is Russian; students also ask in English. Dense retrieval bridges the
languages only partly with the packaged encoder, so an English query's BM25 side is
expanded with the Russian terms of a small course glossary (and vice versa)."""

from __future__ import annotations

import re

EN_RU = {
    "lesson": "занятие урок", "lecture": "лекция", "seminar": "семинар", "homework": "домашнее задание",
    "assignment": "задание", "bonus": "бонус дополнительный балл", "grade": "оценка", "grading": "оценивание",
    "exam": "экзамен", "project": "проект", "deadline": "срок", "points": "баллы", "course": "курс",
    "schedule": "расписание", "date": "дата", "dataset": "датасет", "segmentation": "сегментация",
    "detection": "детекция", "classification": "классификация", "convolution": "свёртка",
    "convolutional": "свёрточная", "pooling": "пулинг", "padding": "паддинг", "stride": "шаг",
    "transformer": "трансформер", "transformers": "трансформеры", "attention": "внимание",
    "embedding": "эмбеддинг", "tokenization": "токенизация", "gradient": "градиент", "descent": "спуск",
    "learning": "обучение", "rate": "шаг", "optimizer": "оптимизатор", "regularization": "регуляризация",
    "overfitting": "переобучение", "augmentation": "аугментация", "recurrent": "рекуррентная",
    "reinforcement": "подкрепление", "agent": "агент", "reward": "награда", "generator": "генератор",
    "discriminator": "дискриминатор", "autoencoder": "автокодировщик", "forecast": "прогноз",
    "series": "ряд", "time": "временной", "face": "лицо", "recognition": "распознавание",
    "prerequisites": "пререквизиты требования", "final": "итоговый", "formula": "формула",
    "loss": "потеря", "function": "функция", "network": "сеть", "neural": "нейронная", "layer": "слой",
    "weights": "веса", "initialization": "инициализация", "explainability": "объяснимость",
    "msu": "мгу", "keras": "keras", "pytorch": "pytorch", "presentation": "презентация",
}

_LATIN_WORD = re.compile(r"[a-z]+")


def expand_query(query: str) -> str:
    """The query plus Russian glossary terms for its English words."""
    low = query.lower()
    words = _LATIN_WORD.findall(low)
    if not words:
        return query
    extra = [EN_RU[w] for w in words if w in EN_RU]
    return query + (" " + " ".join(extra) if extra else "")
