"""Student wording → the words of the course materials.

Students write «дз3», «дропаут», «батчнорм», «ган», «лосс», «кагда», «отличаеться»,
mix Russian and English and spell English terms in Cyrillic. The corpus says
"домашнее задание 3", "dropout", "BatchNorm", "GAN", "функция потерь". `Normalizer`
bridges the two for retrieval (BM25 and the dense query), relevance and off-topic
detection, in four steps per query word, each only when the previous ones found nothing:

1. glossary: slang and abbreviations of the field (STUDENT_TERMS, keyed by stem, so
   «домашку», «домашке» and «домашка» are one entry);
2. the word as written, when the materials contain it (stemmed);
3. transliteration: a Cyrillic word read as Latin letters («лосс» → loss, «керас» →
   keras, «дропаут» → dropaut ≈ dropout), matched against the Latin words of the
   materials, exactly or within one edit;
4. typos: the closest word form of the materials within one edit (two for long
   words): «грдиентный» → градиентный, «кагда» → когда, «отличаеться» → отличается.

Nothing is replaced: the corrections are added to the query (`Normalized.text`), so a
word the materials do not know costs nothing. Edit-distance search uses a deletion
index (SymSpell's idea): a word and every form of it with one character deleted point
to the word, and two words within one edit share a key.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Iterable

from index.bm25 import STOPWORDS, _stem, tokenize

# Slang, abbreviations and Cyrillic spellings students use → the course's own words (both
# languages where the corpus uses both). Keys are word forms; they are matched by stem.
STUDENT_TERMS: dict[str, str] = {
    # logistics
    "дз": "домашнее задание", "дзшка": "домашнее задание", "домашка": "домашнее задание",
    "домашнее": "домашнее задание", "лаба": "задание", "лабораторная": "задание", "hw": "homework домашнее задание",
    "дедлайн": "срок сдачи дедлайн", "deadline": "срок сдачи дедлайн", "экз": "экзамен", "препод": "преподаватель",
    "семинарах": "семинар", "балл": "баллы оценка", "оценка": "оценивание оценка",
    "пререквизиты": "пререквизиты требования", "прериквизиты": "пререквизиты требования", "prereqs": "prerequisites",
    "курсач": "проект", "проект": "итоговый проект", "защита": "защита проекта экзамен",
    # models and layers
    "ган": "GAN генеративно-состязательная сеть", "ганы": "GAN генеративно-состязательная сеть",
    "вае": "VAE вариационный автокодировщик", "ваэ": "VAE вариационный автокодировщик",
    "автоэнкодер": "автокодировщик autoencoder", "энкодер": "кодировщик encoder", "декодер": "декодировщик decoder",
    "дропаут": "dropout", "дропout": "dropout", "дропауты": "dropout",
    "батчнорм": "BatchNorm нормализация по батчу batch normalization", "бачнорм": "BatchNorm batch normalization",
    "батчнормализация": "BatchNorm batch normalization", "bn": "BatchNorm batch normalization",
    "батчнормализации": "BatchNorm batch normalization", "лейернорм": "LayerNorm layer normalization",
    "лэйернорм": "LayerNorm layer normalization",
    "лосс": "loss функция потерь", "лос": "loss функция потерь", "лоссы": "loss функция потерь",
    "лосса": "loss функция потерь", "нан": "NaN", "наны": "NaN", "nan": "NaN",
    "оверфит": "переобучение overfitting", "оверфиттинг": "переобучение overfitting",
    "переобучается": "переобучение overfitting", "андерфит": "недообучение underfitting",
    "лр": "learning rate шаг обучения", "lr": "learning rate шаг обучения", "лернинг": "learning rate шаг обучения",
    "батч": "батч batch", "батчи": "батч batch", "эпоха": "эпоха epoch", "грэдкам": "Grad-CAM",
    "грэд": "Grad-CAM", "градкам": "Grad-CAM", "гредкам": "Grad-CAM", "тесте": "оценке тест evaluation",
    "инференс": "оценка inference", "инференсе": "оценке inference",
    "сетка": "нейронная сеть", "нейронка": "нейронная сеть", "нейросетка": "нейронная сеть", "нейросеть": "нейронная сеть",
    "цнн": "CNN свёрточная сеть", "сверточка": "свёрточная сеть CNN",
    "рнн": "RNN рекуррентная сеть", "рекуррентка": "RNN рекуррентная сеть", "лстм": "LSTM", "гру": "GRU",
    "берт": "BERT", "гпт": "GPT", "жпт": "GPT", "ллм": "LLM большие языковые модели", "раг": "RAG",
    "аттеншн": "attention механизм внимания", "атеншн": "attention механизм внимания",
    "аттеншен": "attention механизм внимания", "внимание": "механизм внимания attention",
    "attn": "attention", "селфаттеншн": "self-attention самовнимание", "самовнимание": "self-attention самовнимание",
    "эмбеддинг": "эмбеддинг embedding", "эмбединг": "эмбеддинг embedding", "эмбэддинг": "эмбеддинг embedding",
    "токенайзер": "токенизатор tokenizer", "трансформер": "трансформер transformer",
    "юнет": "U-Net", "unet": "U-Net", "резнет": "ResNet", "вгг": "VGG", "йоло": "YOLO", "ёло": "YOLO", "нмс": "NMS",
    "дкн": "DQN", "рл": "RL обучение с подкреплением", "rl": "RL обучение с подкреплением",
    "керас": "Keras", "пайторч": "PyTorch", "питорч": "PyTorch", "торч": "PyTorch", "колаб": "Colab",
    "кагл": "Kaggle", "адам": "Adam", "сгд": "SGD", "софтмакс": "softmax", "релу": "ReLU",
    "бэкпроп": "backpropagation обратное распространение ошибки", "бекпроп": "backpropagation обратное распространение",
    "backprop": "backpropagation обратное распространение ошибки", "градспуск": "градиентный спуск",
    "гд": "градиентный спуск", "gd": "gradient descent градиентный спуск", "ауги": "аугментация augmentation",
    "аугментации": "аугментация augmentation", "трансфер": "transfer learning перенос обучения",
    "файнтюн": "fine-tuning дообучение", "файнтюнинг": "fine-tuning дообучение", "finetune": "fine-tuning дообучение",
    "гпу": "GPU", "видюха": "GPU видеокарта", "видеокарта": "GPU видеокарта",
    "dl": "deep learning глубокое обучение", "ml": "machine learning машинное обучение",
    "нейросети": "нейронные сети", "nn": "neural network нейронная сеть", "diffusion": "диффузионные модели",
    "диффузия": "диффузионные модели diffusion", "диффузионка": "диффузионные модели diffusion",
    "мгу": "МГУ", "msu": "МГУ MSU", "вшэ": "ВШЭ", "hse": "ВШЭ HSE",
    # question words in chat spelling
    "кагда": "когда", "када": "когда", "скока": "сколько", "скоко": "сколько", "скок": "сколько",
    "шо": "что", "чо": "что", "че": "что", "чё": "что", "поч": "почему", "пачему": "почему", "почиму": "почему",
    "обьясни": "объясни", "обьяснить": "объяснить", "зочем": "зачем",
}

# Phrases that mean something their words do not: "at test time" is evaluation, not the test
# split of a time series. Matched on the lower-cased query, added like the glossary forms.
PHRASES: dict[str, str] = {
    r"\b(на|при) (тесте|тестировании|инференсе|предсказании)\b": "при оценке eval() evaluation",
    r"\b(at|during) (test|inference|evaluation)( time)?\b|\btest[- ]time\b": "evaluation eval() inference при оценке",
    r"\bне (сходится|обучается|учится)\b|\b(doesn't|does not|won't) (converge|learn|train)\b":
        "шаг обучения learning rate расходимость",
    r"\b(nan|нан)\b": "NaN взрыв градиента exploding gradients",
}

# Question words that carry no topic: never "corrected" into a topic word and never a
# reason to call a question on-topic.
FUNCTION_WORDS = frozenset(tokenize(
    "когда сколько что почему зачем объясни объяснить расскажи подскажи как какой какая какие нужно надо можно "
    "проще пример например ещё еще подробнее пожалуйста плиз плз пж спасибо привет ну вот это такое чем отличается "
    "работает работают работа устроен устроена устроено делает "
    "how what why when which please explain example simpler more thanks hi work works vs versus"))

DISTINCTIVE_SHARE = 0.08

_CYR2LAT = {"а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ё": "e", "ж": "zh", "з": "z", "и": "i",
            "й": "y", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o", "п": "p", "р": "r", "с": "s", "т": "t",
            "у": "u", "ф": "f", "х": "h", "ц": "ts", "ч": "ch", "ш": "sh", "щ": "sch", "ъ": "", "ы": "y", "ь": "",
            "э": "e", "ю": "yu", "я": "ya"}
_WORD = re.compile(r"[0-9a-zа-яё]+(?:[-'][0-9a-zа-яё]+)*", re.IGNORECASE)
_CYR = re.compile(r"[а-яё]")
_CODE = re.compile(r"```.*?```|`[^`\n]*`|\w+(?:\.\w+)+\(?|\w+_\w+|\w+\(", re.S)  # code, dotted/snake names, calls
_LETTERS_DIGITS = re.compile(r"(?<=[a-zа-яё])(?=\d)|(?<=\d)(?=[a-zа-яё])", re.IGNORECASE)


def translit(word: str) -> str:
    """A Cyrillic word read as Latin letters the way students spell English terms."""
    return "".join(_CYR2LAT.get(ch, ch) for ch in word.lower())


def _deletes(word: str) -> set[str]:
    return {word[:i] + word[i + 1:] for i in range(len(word))}


def edit_distance(a: str, b: str, limit: int = 2) -> int:
    """Damerau-Levenshtein (optimal string alignment) distance, stopping above `limit`."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    prev2, prev = None, list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb))
            if prev2 is not None and i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        if min(cur) > limit:
            return limit + 1
        prev2, prev = prev, cur
    return prev[-1]


@lru_cache(maxsize=1)
def _glossary_by_stem() -> dict[str, str]:
    out: dict[str, str] = {}
    for word, canon in STUDENT_TERMS.items():
        out.setdefault(_stem(word.lower().replace("ё", "е")), canon)
    return out


@dataclass
class Normalized:
    """A query with what the materials call its words. `text` is what retrieval uses:
    the query followed by the added terms."""

    query: str
    added: list[str] = field(default_factory=list)  # terms appended to the query
    fixes: dict[str, str] = field(default_factory=dict)  # student word → what it was read as
    course_words: list[str] = field(default_factory=list)  # words that name course topics
    unknown: list[str] = field(default_factory=list)  # content words the materials do not know at all

    @property
    def text(self) -> str:
        return f"{self.query} {' '.join(self.added)}".strip() if self.added else self.query


class Vocabulary:
    """The word forms of the indexed materials, with their counts, and the deletion index
    for typo lookup. Built once per index from the chunk texts (a few hundred ms at 10k chunks)."""

    def __init__(self, texts: Iterable[str], heading_texts: Iterable[str] = ()) -> None:
        self.counts: Counter[str] = Counter()
        # Latin words inside Russian text are the field's terms (BatchNorm, dropout, IoU); in
        # English text they are just English, so only these count as course words
        self.terms: set[str] = set()
        self.stem_df: Counter[str] = Counter()  # in how many texts a stem occurs
        self.n_texts = 0
        # which languages the materials are written in: a word of a language they lack (an English
        # question about Russian-only notes) is not "unknown to the materials", just untranslated
        self.prose_ru = self.prose_en = 0
        for t in texts:
            words = [m.group(0) for m in _WORD.finditer(t.lower().replace("ё", "е"))]
            cyr, lat = len(_CYR.findall(t)), len(re.findall(r"[A-Za-z]", t))
            self.prose_ru += cyr > 2 * lat
            self.prose_en += lat > 2 * cyr
            self.counts.update(words)
            self.stem_df.update({_stem(w) for w in words})
            self.n_texts += 1
            if len(_CYR.findall(t)) > len(t) / 4:  # Russian prose: its Latin words outside code are terms
                prose = _CODE.sub(" ", t).lower().replace("ё", "е")
                self.terms.update(m.group(0) for m in _WORD.finditer(prose)
                                  if len(m.group(0)) >= 2 and not _CYR.search(m.group(0)) and not m.group(0).isdigit())
        self.stems = {_stem(w) for w in self.counts}
        self.latin = {w for w in self.counts if not _CYR.search(w) and not w.isdigit()}
        self.heading_stems = {t for h in heading_texts for t in tokenize(h)}
        self._deleted: dict[str, list[str]] = {}
        for w in self.counts:
            if len(w) >= 4 and not w.isdigit():
                for key in _deletes(w) | {w}:
                    self._deleted.setdefault(key, []).append(w)

    def prefers(self, canon: str, stem: str) -> bool:
        """Do the materials write the glossary's first term (GAN) in more texts than the student's stem («ган»)?"""
        first = tokenize(canon.split()[0])
        return bool(first) and first[0] != stem and self.stem_df.get(first[0], 0) > self.stem_df.get(stem, 0)

    def distinctive(self, stem: str) -> bool:
        """A stem that tells passages apart: in at most DISTINCTIVE_SHARE of them («паддинг»,
        «afhq»), unlike «сеть» or «обучение» that are everywhere in a deep-learning course."""
        return self.stem_df.get(stem, 0) <= max(3, DISTINCTIVE_SHARE * self.n_texts)

    def closest(self, word: str, same_script: bool = True) -> str | None:
        """The most frequent word form within one edit (two for words of 9+ letters,
        looked up through one deletion on each side), or None."""
        limit = 2 if len(word) >= 9 else 1
        cands: set[str] = set()
        for key in _deletes(word) | {word}:
            cands.update(self._deleted.get(key, ()))
        cyr = bool(_CYR.search(word))
        best, best_key = None, None
        for c in cands:
            if c == word or (same_script and bool(_CYR.search(c)) != cyr):
                continue
            d = edit_distance(word, c, limit)
            if d > limit:
                continue
            key = (d, -self.counts[c])
            if best_key is None or key < best_key:
                best, best_key = c, key
        return best


class Normalizer:
    """`normalize(query)` for one index's vocabulary (see the module doc)."""

    def __init__(self, vocab: Vocabulary | None = None) -> None:
        self.vocab = vocab

    def normalize(self, query: str) -> Normalized:
        text = _LETTERS_DIGITS.sub(" ", query or "")  # «дз3» → «дз 3», "hw_1" → "hw 1"
        text = text.replace("_", " ")
        out = Normalized(query=text.strip())
        low = text.lower()
        for pattern, meaning in PHRASES.items():
            if re.search(pattern, low):
                out.added.append(meaning)
        gloss = _glossary_by_stem()
        seen: set[str] = set()
        for m in _WORD.finditer(text.lower().replace("ё", "е")):
            word = m.group(0)
            if word in STOPWORDS or word in seen:
                continue
            seen.add(word)
            stem = _stem(word)
            canon = gloss.get(stem) or STUDENT_TERMS.get(word)
            v = self.vocab
            if canon:
                # a word the materials use as it is needs no reading («внимание», «батч»): adding its
                # glossary forms would only outweigh the student's own word. Unless the materials
                # mostly use the glossary's form: «ганам» is in one Russian sentence, "GAN" in the
                # homework and the lectures, so the reading is what finds them
                if canon.lower() != word and (v is None or stem not in v.stems):
                    out.added.append(canon)
                    out.fixes[word] = canon
                elif canon.lower() != word and v.prefers(canon, stem):
                    # only the materials' own name (GAN), not the whole gloss: the student's other words
                    # («в курсе pytorch») keep their weight
                    out.added.append(canon.split()[0])
                    out.fixes[word] = canon.split()[0]
                if stem not in FUNCTION_WORDS and not set(tokenize(canon)) <= FUNCTION_WORDS:
                    out.course_words.append(word)
                continue
            if v is None or word.isdigit() or stem in FUNCTION_WORDS:
                continue
            if stem in v.stems:
                if ((stem in v.heading_stems and len(word) >= 3) or word in v.terms) and v.distinctive(stem):
                    out.course_words.append(word)
                continue
            if _CYR.search(word):
                lat = translit(word)
                hit = lat if lat in v.latin else (v.closest(lat, same_script=True) if len(lat) >= 5 else None)
                if hit:
                    out.added.append(hit)
                    out.fixes[word] = hit
                    out.course_words.append(word)
                    continue
            fixed = v.closest(word) if len(word) >= 5 else None
            written = getattr(v, "prose_ru" if _CYR.search(word) else "prose_en", 1)
            if not fixed and len(word) >= 4 and not word.isdigit() and written:
                out.unknown.append(word)
            if len(word) >= 5:
                if fixed:
                    out.added.append(fixed)
                    out.fixes[word] = fixed
                    fs = _stem(fixed)
                    if len(word) >= 6 and fs in v.heading_stems and fs not in FUNCTION_WORDS and v.distinctive(fs):
                        out.course_words.append(word)
        return out
