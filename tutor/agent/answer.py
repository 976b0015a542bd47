"""Grounded answers from retrieved passages.

- `extractive_answer`: for weak models (the embedded 135M one) and as the fallback:
  the sentences of the top passages closest to the question (embedding similarity +
  term overlap), kept verbatim and cited [n]. Nothing is invented.
- relevance, off-topic and course labels for the answers (generated ones: tutor.agent.generation).
- `hint_answer`: the Socratic reply for homework questions in hint mode: guiding
  questions and the theory to reread, never a solution or code.
Citation numbers are assigned here from retrieval metadata; the model never makes
up a source.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict

import numpy as np

from index.bm25 import tokenize
from index.search import Hit
from tutor.agent.events import Source
from tutor.agent.messages import say

# Relevance: the packaged multilingual encoder gives modest cosines to Russian
# transliterated terms ("паддинг" ~0.1-0.3), so relevance combines the dense cosine with
# lexical coverage: the share of the question's content words (stemmed) that the passage
# contains. Calibrated on tests/evals: on-topic questions reach cosine >= 0.25 or
# coverage >= 0.5; off-topic ones stay below cosine 0.17 with zero coverage.
DENSE_RELEVANT = 0.25
DENSE_WEAK = 0.15
COVERAGE_RELEVANT = 0.5
DENSE_OFF_TOPIC = 0.17
RELEVANCE_THRESHOLD = DENSE_RELEVANT  # kept for callers that only have a cosine

QUESTION_WORDS = frozenset(tokenize(
    "что такое зачем нужен нужна нужно почему как какой какая какие каков делает делают объясни расскажи "
    "подскажи скажи опиши покажи пожалуйста можно ли это этот курс курсе работает работают устроен устроена "
    "what is are does do why how explain tell describe please which work works"))

ML_TERMS = re.compile(
    r"нейр|сет[ьией]|обуч|модел|слой|градиент|loss|потер|эпох|датасет|данн|класс|регресс|свёрт|сверт|пулинг|"
    r"трансформ|attention|внимани|rnn|lstm|gru|gan|vae|автоэнкод|автокодир|reinforcement|подкреплен|dqn|cnn|bert|gpt|"
    r"embedding|эмбеддинг|токен|token|optimi|оптимиз|dropout|batch|батч|аугмент|augment|детекц|detect|сегмент|segment|"
    r"pytorch|torch|keras|tensor|тензор|метрик|metric|accuracy|точност|overfit|переобуч|курс|лекци|занят|домашн|"
    r"задани|экзамен|оценк|балл|дедлайн|homework|lecture|exam|grade|deadline|course|neural|network|learning|train|"
    r"machine|deep|ml\b|dl\b|ai\b|ии\b|llm|rag|диффуз|diffusion|u-?net|yolo|resnet|mnist|imagenet",
    re.IGNORECASE,
)

_SENT = re.compile(r"(?<=[.!?…])\s+(?=[A-ZА-ЯЁ«\"(0-9])")


def twin_source(source: str) -> str:
    """The other-language version of a lecture file (corpus/lectures ↔ corpus/lectures_en),
    or the source itself when it has none."""
    if "/lectures_en/" in source:
        return source.replace("/lectures_en/", "/lectures/")
    if "/lectures/" in source:
        return source.replace("/lectures/", "/lectures_en/")
    return source


def prefer_language(hits: list[Hit], lang: str, index=None) -> list[Hit]:
    """When a section was retrieved in both languages, the version in the question's language
    takes the better rank of the two, so citation [1] of a Russian question is a Russian
    passage. With `index`, a lecture passage retrieved only in the other language is replaced
    by its twin in the question's language (same section, same lines), keeping its scores.
    The set of sections and everything else about the order stay as retrieved."""
    import dataclasses

    from tutor.agent.router import detect_language

    out = list(hits)
    for i in range(len(out)):
        twin = twin_source(out[i].source)
        if twin == out[i].source or detect_language(out[i].text) == lang:
            continue
        j = next((j for j in range(i + 1, len(out)) if out[j].source == twin and out[j].anchor == out[i].anchor), None)
        if j is not None:
            out[i], out[j] = out[j], out[i]
        elif index is not None and not any(h.source == twin and h.anchor == out[i].anchor for h in out[:i]):
            found = index.hit_at(twin, out[i].anchor) if hasattr(index, "hit_at") else None
            if found is not None and detect_language(found.text) == lang:
                out[i] = dataclasses.replace(found, score=out[i].score, dense_score=out[i].dense_score,
                                             bm25_score=out[i].bm25_score)
    return out


def make_sources(hits: list[Hit], snippet_chars: int = 400) -> list[Source]:
    out = []
    for n, h in enumerate(hits, 1):
        text = " ".join(h.text.split())
        snippet = text if len(text) <= snippet_chars else text[: snippet_chars].rsplit(" ", 1)[0] + " …"
        out.append(Source(n=n, source=h.source, section=h.section, anchor=h.anchor, snippet=snippet, score=h.score))
    return out


def coverage(question: str, hit: Hit, norm=None) -> float:
    """Share of the question's content words (stemmed) found in the passage or its headings; with
    `norm` (index.wording.Normalized) a word also counts when what it was read as is there
    («дропаут» → dropout)."""
    words = [w for w in re.findall(r"[0-9a-zа-яё]+(?:[-'][0-9a-zа-яё]+)*", question.lower()) if tokenize(w)]
    fixes = norm.fixes if norm is not None else {}
    variants = []
    for w in words:
        stems = set(tokenize(w)) - QUESTION_WORDS
        if not stems:
            continue
        variants.append(stems | set(tokenize(fixes.get(w.replace("ё", "е"), ""))))
    if not variants:
        return 0.0
    have = set(tokenize(f"{hit.section} {hit.text}"))
    return sum(bool(v & have) for v in variants) / len(variants)


def _names_a_covered_topic(hits: list[Hit], norm) -> bool:
    """A distinctive course word of the question («дропаут», «afhq», «nms») is in a retrieved passage."""
    if norm is None or not norm.course_words:
        return False
    have = set().union(*(set(tokenize(f"{h.section} {h.text}")) for h in hits[:3])) if hits else set()
    for w in norm.course_words:
        if (set(tokenize(w)) | set(tokenize(norm.fixes.get(w, "")))) & have:
            return True
    return False


DENSE_CLOSE = 0.45  # a passage this close in meaning covers the question whatever its words


def is_relevant(hits: list[Hit], question: str, norm=None) -> bool:
    """Do the retrieved passages cover the question? "Not found" only when they do not: a
    question with more topic words the materials never use («капсульные сети Хинтона»,
    "AlphaFold … protein", «kubernetes») than words of the course is not covered, whatever a
    shared generic word («сети», "predict") retrieved."""
    if not hits:
        return False
    best = max((h.dense_score or 0.0) for h in hits)
    if norm is not None and best < DENSE_CLOSE:
        # a word the shared vocabulary lacks is not unknown when a retrieved passage uses it (a course's own
        # uploaded material: «консультации … в кабинете 777»)
        have = set().union(*(set(tokenize(f"{h.section} {h.text}")) for h in hits[:3]))
        unknown = [w for w in norm.unknown if not set(tokenize(w)) & have]
        if len(unknown) > len(norm.course_words):
            return False
    cov = max(coverage(question, h, norm) for h in hits[:3])
    if best >= DENSE_RELEVANT or cov >= COVERAGE_RELEVANT or (best >= DENSE_WEAK and cov >= 0.34):
        return True
    if _names_a_covered_topic(hits, norm):
        return True
    # "the solution of homework 3": few content words, but the homework pages were found
    return bool(HOMEWORK.search(question)) and any("homework" in h.source for h in hits[:5])


def is_strongly_relevant(hits: list[Hit], question: str, norm=None) -> bool:
    """Relevant by the passages' own words or meaning, not only by one shared term: when a
    model says the materials do not cover such a question, it is wrong (its answer is
    replaced by the extractive one); for a weakly related one it may be right."""
    if not hits:
        return False
    best = max((h.dense_score or 0.0) for h in hits)
    cov = max(coverage(question, h, norm) for h in hits[:3])
    return best >= DENSE_RELEVANT or cov >= COVERAGE_RELEVANT


def is_off_topic(hits: list[Hit], question: str, norm=None) -> bool:
    """Neither the materials nor the vocabulary of the field is anywhere near. A word of the
    course («дропаут», «дз», «батчнорм») is never off-topic."""
    if norm is not None and norm.course_words:
        return False
    best = max(((h.dense_score or 0.0) for h in hits), default=0.0)
    cov = max((coverage(question, h, norm) for h in hits[:3]), default=0.0)
    text = norm.text if norm is not None else question
    return best < DENSE_OFF_TOPIC and cov == 0.0 and not ML_TERMS.search(text)


_LIST_ITEM = re.compile(r"^\s*([-*+]|\d+[.)])\s+")
_MAX_UNIT = 700  # a list longer than this is quoted item by item


def _clean(line: str) -> str:
    """Markdown markup off, identifiers intact (requires_grad, W_out, d_model)."""
    line = re.sub(r"^\s*#+\s*", "", line)
    line = line.replace("`", "").replace("**", "")
    line = re.sub(r"(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])", r"\1", line)  # *emphasis*
    line = re.sub(r"(?<!\w)_(?=\S)([^_\n]+?)(?<=\S)_(?!\w)", r"\1", line)  # _emphasis_
    return line.strip()


def _sentences(text: str) -> list[str]:
    """Quotable units of a passage: its sentences, except that a bulleted or numbered list
    stays whole together with the line that introduces it ("Требования: a; b; c"), since
    its items mean little apart. Code blocks are left out (shown via the sources)."""
    text = re.sub(r"```.*?```", " ", text, flags=re.S)
    out: list[str] = []
    items: list[str] = []

    def flush() -> None:
        if not items:
            return
        lead = out.pop() if out and out[-1].endswith(":") else ""
        joined = (lead + " " if lead else "") + "; ".join(i.rstrip(";.") for i in items) + "."
        if len(joined) <= _MAX_UNIT:
            out.append(joined)
        else:
            out.extend(([lead] if lead else []) + items)
        items.clear()

    for raw in text.splitlines():
        is_item = bool(_LIST_ITEM.match(raw))
        line = _clean(_LIST_ITEM.sub("", raw))
        if not line:
            continue
        if is_item:
            items.append(line)
            continue
        flush()
        out += [s.strip() for s in _SENT.split(line) if s.strip()]
    flush()
    return out


# Sentence selection (extractive answers). A sentence's score is its cosine to the question
# (with its section title for context) + lexical overlap with the question's content words
# + a bonus for better-ranked passages; a sentence in the other language than the question
# (the lectures exist in Russian and English) is slightly penalised. The answer quotes the
# best sentence and only sentences close to it: SAME_PASSAGE_MARGIN below the best within
# its passage, OTHER_PASSAGE_MARGIN elsewhere, so a weakly related passage that retrieval
# happened to return is not quoted (and cited) just to fill the answer up.
OVERLAP_WEIGHT = 0.35
RANK_BONUS = 0.08
OTHER_LANGUAGE_PENALTY = 0.05
TRANSLATION_SIMILARITY = 0.72  # cosine of a sentence and its translation (0.65-0.9; unrelated pairs < 0.5)
ANSWER_TYPE_BONUS = 0.15  # "when?" → a sentence with a date, "how many?" → one with a number
FRAGMENT_PENALTY = 0.2  # full for a 0-character fragment, nothing from FRAGMENT_CHARS up
FRAGMENT_CHARS = 120
SAME_PASSAGE_MARGIN = 0.25
OTHER_PASSAGE_MARGIN = 0.05

_ASKS_DATE = re.compile(r"\b(когда|какого числа|в какой день|when|what date)\b.*\b(заняти|лекци|урок|семинар|экзамен|зач[её]т|"
                        r"дедлайн|срок|сда|выда|lesson|lecture|class|seminar|exam|deadline|due)"
                        r"|\bдедлайн|\bdeadline", re.I)
_ASKS_NUMBER = re.compile(r"\bсколько\b|\bво сколько\b|\bкаков\w* (размер|число|количеств|значени)|\bhow (many|much|long|large|big)\b|"
                          r"\bwhat (value|number|size)\b", re.I)
_ASKS_FORMULA = re.compile(r"\bкак\b.{0,30}\b(по)?(счита|счит|вычисл|рассчит)|\bформул|\bhow\b.{0,30}\b(comput|calculat)|"
                           r"\bformula", re.I)
_ASKS_EXAMPLE = re.compile(r"пример|example|for instance", re.I)
_GIVES_EXAMPLE = re.compile(r"например|пример|e\.g\.|for example|for instance|such as|таких как|→|\d", re.I)
# «зачем?», «для чего …» ask for a purpose; «почему?», "why?" for a cause: a sentence that gives one
# answers, the definition does not. A remedy («помогают ReLU …») is a purpose, not a cause of «почему лосс nan»
_ASKS_PURPOSE = re.compile(r"\b(зачем|для чего|с какой целью|в ч[её]м смысл|какой смысл|чем полез\w*|what for|"
                           r"what is (it|this|that|\w+) for|what's (it|\w+) for)\b", re.I)
_ASKS_CAUSE = re.compile(r"\b(почему|отчего|из-за чего|why)\b", re.I)
_GIVES_PURPOSE = re.compile(r"\b(чтобы|для того|позволя\w*|помога\w*|уменьша\w*|снижа\w*|предотвращ\w*|избега\w*|"
                            r"ускоря\w*|стабилизир\w*|сохраня\w*|защища\w*|so that|in order to|helps?|allows?|lets|"
                            r"reduces?|prevents?|avoids?|speeds? up|stabili[sz]es?|keeps?)\b", re.I)
_GIVES_CAUSE = re.compile(r"\b(потому что|так как|из-за|поскольку|поэтому|иначе|если|приводит|вызывает|благодаря|"
                          r"because|since|due to|otherwise|if|causes?|leads? to|results? in)\b", re.I)
_MONTHS = re.compile(r"январ|феврал|март|апрел|ма[йя]\b|июн|июл|август|сентябр|октябр|ноябр|декабр|january|february|march|"
                     r"april|may\b|june|july|august|september|october|november|december", re.I)


def _answer_type_bonus(question: str, sentence: str) -> float:
    """A classic QA prior: the answer to "when is the lesson" holds a date, to "how many" a
    number, to "how is it computed" a formula, to "why" a purpose or a cause."""
    if _ASKS_DATE.search(question):
        return ANSWER_TYPE_BONUS if _MONTHS.search(sentence) else 0.0
    if _ASKS_NUMBER.search(question):
        return ANSWER_TYPE_BONUS if re.search(r"\d", sentence) else 0.0
    if _ASKS_FORMULA.search(question):
        return ANSWER_TYPE_BONUS if re.search(r"\S\s*=\s*\S", sentence) else 0.0
    if _ASKS_EXAMPLE.search(question):
        return ANSWER_TYPE_BONUS if _GIVES_EXAMPLE.search(sentence) else 0.0
    if _ASKS_PURPOSE.search(question):  # a purpose is often told by what goes wrong without it («иначе …»)
        return ANSWER_TYPE_BONUS if _GIVES_PURPOSE.search(sentence) or _GIVES_CAUSE.search(sentence) else 0.0
    if _ASKS_CAUSE.search(question):
        return ANSWER_TYPE_BONUS if _GIVES_CAUSE.search(sentence) else 0.0
    return 0.0


# a syllabus item phrased as a question ("Какие функции потерь доступны в pytorch")
_QUESTION_LIKE = re.compile(r"(что|чем|как|какие|какой|какая|каким|зачем|почему|сколько|где|когда|what|how|which|why|when|"
                            r"where)\s[^,:;—=]*$", re.I)


def _form_penalty(sentence: str, headed: bool) -> float:
    """A question does not answer anything; a short fragment (a syllabus bullet, a
    caption) says little. Short passages quoted with their heading are exempt."""
    if sentence.rstrip().endswith("?") or (len(sentence) < 100 and _QUESTION_LIKE.match(sentence)):
        return ANSWER_TYPE_BONUS + FRAGMENT_PENALTY
    if headed:
        return 0.0
    parts = [p for p in sentence.split("; ") if p.strip()]  # a joined list is as informative as its items
    length = sum(map(len, parts)) / len(parts) if parts else len(sentence)
    return FRAGMENT_PENALTY * max(0.0, 1.0 - length / FRAGMENT_CHARS)


_VECTORS: "OrderedDict[tuple[str, str], np.ndarray]" = OrderedDict()
_VECTORS_MAX = 50_000  # ~100 MB of 512-d float32 at most
_vectors_lock = threading.Lock()


def encode_cached(embedder, texts: list[str]) -> np.ndarray:
    """Sentence vectors, remembered per (encoder, text): the same lecture passages come back
    for many questions, and encoding their sentences was most of an extractive turn."""
    name = getattr(embedder, "name", type(embedder).__name__)
    with _vectors_lock:
        missing = list(dict.fromkeys(t for t in texts if (name, t) not in _VECTORS))
    if missing:
        fresh = embedder.encode(missing)
        with _vectors_lock:
            for t, v in zip(missing, fresh):
                _VECTORS[(name, t)] = np.asarray(v, dtype=np.float32)
            while len(_VECTORS) > _VECTORS_MAX:
                _VECTORS.popitem(last=False)
    with _vectors_lock:
        out = []
        for t in texts:
            v = _VECTORS.get((name, t))
            if v is None:  # evicted meanwhile by another thread: encode again
                v = np.asarray(embedder.encode([t])[0], dtype=np.float32)
            else:
                _VECTORS.move_to_end((name, t))
            out.append(v)
    return np.stack(out) if out else np.zeros((0, 0), dtype=np.float32)


_QUERIES: "OrderedDict[tuple[str, str], np.ndarray]" = OrderedDict()


def encode_query_cached(embedder, text: str) -> np.ndarray:
    """A question's vector, remembered for the turn's later steps (sentence choice, the check)."""
    key = (getattr(embedder, "name", type(embedder).__name__), text)
    with _vectors_lock:
        v = _QUERIES.get(key)
    if v is None:
        v = np.asarray(embedder.encode([text], is_query=True)[0], dtype=np.float32)
        with _vectors_lock:
            _QUERIES[key] = v
            while len(_QUERIES) > 2048:
                _QUERIES.popitem(last=False)
    return v


def sentence_contexts(hit: Hit) -> tuple[list[str], list[str]]:
    """(sentences, what each is encoded as) of a passage: a sentence with its section title, the
    context both the extractive choice and the grounding check compare with (one vector each)."""
    title = hit.headings[-1] if hit.headings else ""
    sents = [s for s in _sentences(hit.text) if 25 <= len(s) <= _MAX_UNIT]
    return sents, [f"{title}: {s}" if title else s for s in sents]


def _candidates(question: str, hits: list[Hit], lang: str, embedder=None, allow_code: bool = True,
                request: str = ""):
    """(passage n, position, sentence) of the passages with each sentence's score. `request` is the
    student's own message when `question` is its standalone rewrite: «приведи пример» asks for an
    example of the rewritten question's topic."""
    from tutor.agent.router import detect_language

    cands: list[tuple[int, int, str]] = []
    contexts: list[str] = []  # what a sentence is scored with: its section title gives it context
    headed: list[bool] = []
    top = hits[:5]
    for n, h in enumerate(top, 1):
        title = h.headings[-1] if h.headings else ""
        body = " ".join(h.text.split())
        if len(body) < 140 and title:
            # a short passage (a date, a one-line item) means nothing without its heading
            if not allow_code and looks_like_code(body):
                continue
            cands.append((n, 0, f"{title}: {_clean(body)}"))
            contexts.append(f"{title}: {body}")
            headed.append(True)
            continue
        for pos, s in enumerate(_sentences(h.text)):
            if 25 <= len(s) <= _MAX_UNIT and (allow_code or not looks_like_code(s)):
                cands.append((n, pos, s))
                contexts.append(f"{title}: {s}" if title else s)
                headed.append(False)
    if not cands:
        return [], np.zeros(0)
    q_terms = {t for t in tokenize(question) if t not in QUESTION_WORDS} or set(tokenize(question))
    # overlap counts the sentence's whole heading path: a sentence of «Свёрточные сети > Паддинг» is about both
    in_context = [set(tokenize(f"{top[n - 1].section} {c}")) for (n, _, _), c in zip(cands, contexts)]
    # a question word found in every retrieved passage ("сеть", "ImageNet") tells them apart
    # less than a rarer one ("паддинг"): the overlap is weighted by the term's inverse
    # frequency among the passages (with their heading paths)
    in_passage = [set(tokenize(f"{h.section} {h.text}")) for h in top]
    df = {t: sum(t in ts for ts in in_passage) for t in q_terms}
    w = {t: float(np.log1p(len(top) / (df[t] or 0.5))) for t in q_terms}
    total = sum(w.values()) or 1.0
    overlap = np.array([sum(w[t] for t in q_terms & c) / total for c in in_context])
    langs = [detect_language(c) for _, _, c in cands]
    keep = np.ones(len(cands), dtype=bool)
    # a lecture exists in Russian (corpus/lectures) and English (corpus/lectures_en): when both
    # versions were retrieved, only the one in the question's language is quoted
    sources = {h.source for h in top}
    for i, (n, _, _) in enumerate(cands):
        src = top[n - 1].source
        twin = twin_source(src)
        if langs[i] != lang and twin != src and twin in sources:
            keep[i] = False
    if embedder is not None:
        vecs = encode_cached(embedder, contexts)
        qv = encode_query_cached(embedder, question)
        sim = vecs @ qv
        # the lectures exist in Russian and English: of a sentence and its translation, only
        # the one in the question's language is a candidate
        other = np.array([lg != lang for lg in langs])
        translated = ((vecs @ vecs.T) >= TRANSLATION_SIMILARITY) & ~other[None, :]  # (i, j): j is i in lang
        keep &= ~(other & translated.any(axis=1))
    else:
        sim = np.zeros(len(cands))
    span = max(len(top) - 1, 1)
    rank_bonus = np.array([RANK_BONUS * (len(top) - n) / span for n, _, _ in cands])
    other_lang = np.array([OTHER_LANGUAGE_PENALTY * (lg != lang) for lg in langs])
    asks = f"{request} {question}" if request else question
    form = np.array([_answer_type_bonus(asks, s) - _form_penalty(s, hd) for (_, _, s), hd in zip(cands, headed)])
    score = sim + OVERLAP_WEIGHT * overlap + rank_bonus - other_lang + form
    return [c for c, k in zip(cands, keep) if k], score[keep]


def names_other_terms(sentence: str, asked: set[str]) -> bool:
    """«BatchNorm нормирует по батчу, LayerNorm — по признакам объекта» for «зачем дропаут?»:
    the sentence names the field's terms (Latin words in Russian prose, or any capitalised
    abbreviation), none of them asked about, and shares no word with the question."""
    if set(tokenize(sentence)) & asked:
        return False
    return bool(re.search(r"\b[A-Z][A-Za-z]*[A-Z][A-Za-z]*\b|\b[A-Z]{2,}\b", sentence))  # BatchNorm, CNN, LayerNorm


def field_terms(sentence: str) -> set[str]:
    """The field's named terms of a sentence: BatchNorm, LayerNorm, CNN, Dropout (a capitalised Latin word)."""
    return {w.lower() for w in re.findall(r"\b[A-Z][A-Za-z]*[A-Z][A-Za-z]*\b|\b[A-Z]{2,}\b|\b[A-Z][a-z]{3,}\b", sentence)}


def changes_subject(sentence: str, following: str, asked: set[str]) -> bool:
    """The passage's next sentence is about other named terms than the quoted one («Dropout … выключается.»
    then «BatchNorm нормирует по батчу …») and shares no word with the question."""
    mine = field_terms(sentence)
    return bool(mine) and not (mine & field_terms(following)) and names_other_terms(following, asked)


def extractive_answer(question: str, hits: list[Hit], lang: str, embedder=None, max_sentences: int = 5,
                      per_passage: int = 4, allow_code: bool = True, said: str = "", request: str = "") -> str:
    """Verbatim sentences from the top passages, each group followed by its citation [n]
    (allow_code=False skips sentences that quote code, for hint mode). `said` is the thread's
    last answer: after «объясни проще» or «приведи пример» the student has read those sentences,
    so others of the same passages come first when they are about as close."""
    cands, score = _candidates(question, hits, lang, embedder, allow_code, request)
    if not cands:
        return ""
    order = [int(i) for i in np.argsort(-score, kind="stable")]
    best, anchor = score[order[0]], cands[order[0]][0]
    repeated: set[int] = set()
    if said:
        # only among the sentences that answer about as well: a repeat is better than a quote
        # about something else («а зачем?» after BatchNorm must not be answered with transformers)
        seen = " ".join(said.split())
        close = [i for i in order if score[i] >= best - (SAME_PASSAGE_MARGIN if cands[i][0] == anchor
                                                          else OTHER_PASSAGE_MARGIN)]
        repeated = {i for i in close if " ".join(cands[i][2].split()) in seen}
        if len(repeated) == len(close):
            repeated = set()
        else:
            anchor = cands[next(i for i in close if i not in repeated)][0]
    asked = set(tokenize(f"{request} {question}")) - QUESTION_WORDS
    chosen: list[int] = []
    per: dict[int, int] = {}
    for i in order:
        n, _, s = cands[i]
        margin = SAME_PASSAGE_MARGIN if n == anchor else OTHER_PASSAGE_MARGIN
        if chosen and score[i] < best - margin:
            continue
        if per.get(n, 0) >= per_passage or any(s == cands[j][2] for j in chosen) or i in repeated:
            continue
        chosen.append(i)
        per[n] = per.get(n, 0) + 1
        if len(chosen) >= max_sentences:
            break
    # the best sentence of a passage often names the topic and the next one gives the detail
    # ("Метрики ... сравнивают на одном периоде. MAE = ..."): it is quoted too
    for i in list(chosen):
        n, pos, _ = cands[i]
        if i != max((j for j in chosen if cands[j][0] == n), key=lambda j: score[j]):
            continue
        nxt = next((j for j, c in enumerate(cands) if c[0] == n and c[1] == pos + 1), None)
        if nxt is not None and (changes_subject(cands[i][2], cands[nxt][2], asked)
                                or (repeated and " ".join(cands[nxt][2].split()) in seen)):
            continue  # «… при оценке выключается. BatchNorm нормирует по батчу …» for «зачем дропаут?»
        if nxt is not None and nxt not in chosen and len(chosen) < max_sentences + 1:
            chosen.append(nxt)
    # present grouped by passage, in the passage's own order: reads like a paraphrase
    chosen.sort(key=lambda i: (cands[i][0], cands[i][1]))
    lines, cur_n, cur = [], None, []
    for i in chosen + [None]:
        n = cands[i][0] if i is not None else None
        if (n != cur_n or i is None) and cur:
            lines.append(course_prefix(hits[cur_n - 1], " ".join(cur), lang) + " ".join(cur) + f" [{cur_n}]")
            cur = []
        if i is not None:
            cur_n = n
            cur.append(cands[i][2])
    from tutor.agent.router import detect_language

    same_language = lang == "ru" or all(detect_language(cands[i][2]) == "en" for i in chosen)
    head = say("extractive_head" if same_language else "extractive_head_quoted", lang)
    return head + "\n\n" + "\n\n".join(lines)


def course_label(label: str, lang: str) -> str:
    """A passage's course label («курс 1 «Нейросетевые технологии»») in the answer's language."""
    if lang != "ru":
        label = re.sub(r"^курс (\d+) «(.*)»$", r"course \1 “\2”", label)
    return label


def course_prefix(hit: Hit, quoted: str, lang: str) -> str:
    """«Курс 1 «…»: » before quotes from a course's own pages, unless the quote names its course."""
    if not hit.course:
        return ""
    num = re.match(r"\D*(\d+)", hit.course)
    if num and re.search(rf"\b(курс\w*|course)\s+{num.group(1)}\b", quoted, re.I):
        return ""
    label = course_label(hit.course, lang)
    return label[0].upper() + label[1:] + ": "


def not_covered_answer(lang: str, topics: list[str]) -> str:
    return say("not_covered", lang, topics=", ".join(topics[:12]))


def off_topic_answer(lang: str, topics: list[str]) -> str:
    return say("off_topic", lang, topics=", ".join(topics[:8]))


HOMEWORK = re.compile(r"домашн|домашк|\bдз\b|\bдз-?\d|задани|\bлаб(а|у|ы|е|ой|ораторн\w*)\b|homework|assignment|"
                      r"\bhw\s*-?\d*\b|problem set|\bexercise", re.IGNORECASE)
# in hint mode a request for a finished solution or code is treated like homework too
SOLUTION_REQUEST = re.compile(r"реши\b|решени|решить|напиши\w* (мне )?(код|программ|решени)|готов\w* (код|решени)|"
                              r"дай\w* (мне )?(код|решени|ответ)|\bкод\w* (для|к)\b|solution|solve|write (me )?(the )?code|"
                              r"give me (the )?(code|answer)|\bcode for\b", re.IGNORECASE)


def is_homework(question: str, hits: list[Hit]) -> bool:
    return (bool(HOMEWORK.search(question)) or bool(SOLUTION_REQUEST.search(question))
            or any("homework" in h.source for h in hits[:2]))


_CODE_LINE = re.compile(
    r"^\s*(import\s+\w|from\s+[\w.]+\s+import\s|def\s+\w+\s*\(|class\s+\w+\s*[(:]|for\s+\w+(\s*,\s*\w+)*\s+in\s+.*:\s*$|"
    r"while\s+.*:\s*$|if\s+.*:\s*$|elif\s|else\s*:|try\s*:|except\b|with\s+.*:\s*$|return\b|print\s*\(|@\w+|>>>|\$\s|"
    r"pip\s+install|!pip)"
    r"|^\s*[A-Za-z_][\w.]*(\[[^\]]*\])?\s*(=|\+=|-=|\*=)\s*[\w\[({'\"-]"  # an assignment
    r"|\b(torch|nn|F|np|optim|tf|keras|torchvision|sklearn)\.\w"  # library calls and names
    r"|\.(fit|backward|step|zero_grad|forward|cuda|to|train|eval|parameters|item|numpy)\("
    r"|[;{]\s*$|^\s*[)\]}]\s*$")


def looks_like_code(line: str) -> bool:
    """A line (or a quoted sentence) that is source code rather than prose."""
    return bool(_CODE_LINE.search(line))


def _remove_code(text: str) -> str:
    """Fenced blocks, indented blocks, code-like lines and inline code spans removed."""
    text = re.sub(r"```.*?(```|$)", "", text, flags=re.S)
    text = re.sub(r"`[^`\n]*`", lambda m: "" if looks_like_code(m.group(0).strip("`")) else m.group(0), text)
    lines = [line for line in text.splitlines() if not re.match(r"^( {4}|\t)\S", line) and not looks_like_code(line)]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


MAX_HINT_CHARS = 1500


def strip_code(text: str) -> str:
    """A model's reply in hint mode made to follow the rules whatever the model wrote: code
    removed, a long reply (a solution written out in prose) cut to its first paragraphs.
    Returns "" when what is left is not a hint — no guiding question or no citation of a
    passage — so that the caller answers with the deterministic `hint_answer` instead."""
    text = _remove_code(text)
    if len(text) > MAX_HINT_CHARS:
        kept = ""
        for para in text.split("\n\n"):
            if kept and len(kept) + len(para) > MAX_HINT_CHARS:
                break
            kept = f"{kept}\n\n{para}" if kept else para[:MAX_HINT_CHARS]
        text = kept
    if "?" not in text or not re.search(r"\[\d+\]", text) or len(re.sub(r"\W", "", text)) < 40:
        return ""
    return text


_HOMEWORK_HEADING = re.compile(r"задани|домашн|\bдз\b|тетрадк|homework|assignment|\bhw_?\d", re.IGNORECASE)


def homework_item(hits: list[Hit]) -> tuple[int, Hit] | None:
    """(citation number, passage) of the homework item the question is about: the best-ranked
    retrieved passage whose heading path names a homework."""
    for n, h in enumerate(hits[:5], 1):
        if _HOMEWORK_HEADING.search(h.section) or "homework" in h.source:
            return n, h
    return None


def _item_questions(text: str, limit: int = 3) -> list[str]:
    """Guiding questions taken from the homework item itself: its own questions («какая функция
    потерь и почему?») or, failing that, its requirements (turned into questions by the caller)."""
    text = re.sub(r"```.*?```", " ", text, flags=re.S)
    own = []
    for part in re.split(r"[;\n]|(?<=\?)\s", _clean(text)):
        part = part.strip(" -•*:")
        if part.endswith("?") and 15 <= len(part) <= 200 and not looks_like_code(part):
            own.append(part[0].upper() + part[1:])
    if own:
        return own[:limit]
    items: list[str] = []
    for line in text.splitlines():
        if not _LIST_ITEM.match(line):
            continue
        item = _clean(_LIST_ITEM.sub("", line)).split(":")[0].strip().rstrip(".;,")
        if len(item) > 160:
            item = item[:160].rsplit(" ", 1)[0] + " …"
        # chunks overlap: the same requirement may come twice, or cut at the start
        if 10 <= len(item) and not looks_like_code(item) and not any(item in x or x in item for x in items):
            items.append(item)
    return items[:limit]


def _hint_parts(question: str, hits: list[Hit], lang: str, index=None) -> tuple[list[str], list[tuple[str, int]]]:
    """The guiding questions and the sections to reread (with their citation numbers): the homework
    item first, with questions drawn from it, then the theory."""
    sections: list[tuple[str, int]] = []
    for n, h in enumerate(hits[:3], 1):
        title = h.headings[-1] if h.headings else h.section
        title = re.sub(r"\b(torch|nn|F|np|optim|tf|keras|torchvision|sklearn)\.", "", title)  # "nn.Embedding": a name, not code
        if title and title not in [s for s, _ in sections]:
            sections.append((title, n))
    item = homework_item(hits)
    qs: list[str] = []
    if item:
        n, h = item
        title = h.headings[-1] if h.headings else h.section
        course = course_label(h.course, lang) if h.course else ""
        whole = index.section_text(h.source, h.section) if hasattr(index, "section_text") else ""
        drawn = _item_questions(whole or h.text)
        asks = [q for q in drawn if q.endswith("?")]
        qs.append(say("hint_item", lang, where=quoted(title, lang) + (f" ({course})" if course else "") + f" [{n}]"))
        qs += asks or [say("hint_requirement", lang, requirement=r) for r in drawn[:2]]
    qs += [say("hint_steps", lang), say("hint_check", lang)]
    if not item:
        qs.insert(0, say("hint_shapes", lang))
        if sections:
            qs.insert(1, say("hint_section", lang, section=f"{quoted(sections[0][0], lang)} [{sections[0][1]}]"))
    return qs[:5], sections


def quoted(text: str, lang: str) -> str:
    return f"«{text}»" if lang == "ru" else f"“{text}”"


def _questions_block(qs: list[str], lang: str) -> str:
    return say("hint_questions_head", lang) + "\n" + "\n".join(f"{i}. {q}" for i, q in enumerate(qs, 1))


def _reread_block(sections: list[tuple[str, int]], lang: str) -> str:
    return say("hint_reread", lang, sections="; ".join(f"{quoted(s, lang)} [{n}]" for s, n in sections))


def hint_answer(question: str, hits: list[Hit], lang: str, embedder=None, index=None) -> str:
    """Guiding questions about the homework item and pointers to the theory, no solution
    (deterministic). With `index`, the item's whole section supplies its requirements."""
    theory = extractive_answer(question, hits, lang, embedder, max_sentences=2, per_passage=1, allow_code=False)
    theory = theory.split("\n\n", 1)[1] if "\n\n" in theory else theory
    qs, sections = _hint_parts(question, hits, lang, index)
    out = [say("hint_intro", lang)]
    if theory:
        out.append(say("hint_theory", lang, theory=theory))
    out.append(_questions_block(qs, lang))
    if sections:
        out.append(_reread_block(sections, lang))
    out.append(say("hint_outro", lang))
    return _remove_code("\n\n".join(out))


def drop_unknown_citations(text: str, n_sources: int) -> str:
    """A model may cite [7] with five passages: numbers that match no source are removed,
    so every citation left in the answer points at a real passage."""
    return re.sub(r"\s?\[(\d+)\]", lambda m: m.group(0) if 1 <= int(m.group(1)) <= n_sources else "", text)
