"""Generative, grounded answers: the LLM explains from short passage excerpts, each
sentence is checked before the student sees it, and a failed answer is repaired or
replaced by the extractive one.

    write_answer(...)  →  async iterator of str (text to show, in order) … AnswerResult

Streaming and checking at once: tokens are buffered until a sentence is complete, the
sentence is checked (grounding.Grounder: citations exist, numbers and terms are in the
cited passage, no reversed direction), and only then released. A sentence that fails is
dropped (repair) and logged with its reason. Sentences that claim nothing ("Хороший
вопрос!") are held back until the first supported claim, so that when no claim passes —
or the model answers in the wrong language, refuses although retrieval found the topic,
or the backend fails — nothing has been shown yet and the extractive answer replaces the
whole reply cleanly. The cost is latency: a sentence appears when its last token is
generated (~0.5–1 s after its first on 2 cores), not token by token.

Prompt size is what bounds the first token on a CPU: 2 cores process ~90 prompt tokens/s,
so the passages are excerpts (the sentences of each passage closest to the question,
~300 characters for [1], less for [2] and [3]) after a fixed system prompt that llama.cpp
keeps cached between turns.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass, field
from functools import lru_cache
from typing import AsyncIterator

from index.bm25 import tokenize
from index.search import Hit
from tutor.agent import prompts
from tutor.agent.grounding import _CITE, Grounder, SentenceCheck, citations, join_sentences, language_ok, separator

log = logging.getLogger(__name__)

PASSAGES_IN_PROMPT = 3
EXCERPT_CHARS = (360, 260, 200)  # per passage rank: [1] gets the most room
HISTORY_TURNS = 4  # messages (2 exchanges) of the thread the model sees
HISTORY_ANSWER_CHARS = 350
MAX_ANSWER_TOKENS = 220  # 2-4 sentences; the whole answer's time is mostly these tokens
REPEAT_OVERLAP = 0.8  # share of terms two sentences have in common (of their union) to be one said twice
REPEAT_CONTAINED = 0.9  # or: share of a new sentence's terms an earlier one already said (its shorter echo)
STOP_AFTER_REPEATS = 2  # the model loops: stop reading it
GIVE_UP_AFTER_DROPPED = 3  # this many unsupported sentences and none supported: stop and fall back

_ANAPHORA = re.compile(r"^(это|этот|эта|эти|он|она|оно|они|такой|такая|такие|поэтому|this|it|they|these|that|so)\b",
                       re.IGNORECASE)
_REFUSAL = re.compile(
    r"(не (нашёл|нашел|нашла|найдено|содерж|упомина|описыва|говорится|сказано|приводится)|нет (информации|ответа|данных|сведений)|"
    r"отсутству|не могу ответить|не указан|do(es)? not (contain|mention|cover|say|provide|answer)|no information|"
    r"not (mentioned|covered|provided|specified|found)|cannot answer|can't answer|don't (have|contain))", re.IGNORECASE)


@dataclass
class AnswerResult:
    text: str
    style: str  # "generative" | "extractive" (the fallback) | "hint" variants
    reason: str = ""  # why the LLM's answer was repaired or replaced ("" when it passed whole)
    dropped: list[SentenceCheck] = field(default_factory=list)
    kept_claims: int = 0
    timings: dict = field(default_factory=dict)  # first_token_s, first_shown_s, total_s, tokens
    raw: str = ""  # what the model wrote, before the check


MIN_SCORE_SHARE = 0.7  # a passage scored below this share of the first one is left out of the prompt


def prompt_passages(hits: list[Hit], k: int = PASSAGES_IN_PROMPT) -> list[int]:
    """0-based indices of the passages the model sees: the first k, skipping a lecture's
    other-language twin of a passage already chosen (the same text twice costs prompt time)
    and passages retrieval ranked far below the first (they mislead a small model more than
    they help it)."""
    from tutor.agent.answer import twin_source

    chosen: list[int] = []
    for i, h in enumerate(hits):
        if len(chosen) == k:
            break
        if chosen and hits[0].score > 0 and h.score < MIN_SCORE_SHARE * hits[0].score:
            continue
        twin = twin_source(h.source)
        if twin != h.source and any(hits[j].source == twin and hits[j].anchor == h.anchor for j in chosen):
            continue
        chosen.append(i)
    return chosen


def excerpts(question: str, hits: list[Hit], lang: str, embedder=None,
             chars: tuple[int, ...] = EXCERPT_CHARS, normalizer=None) -> list[str]:
    """For each passage (in the given order), its sentences closest to the question, in the
    passage's order, within the character budget of its rank. Below the first passage, only
    sentences that name a word of the question when some do: «Пакетная нормализация и Dropout»
    quoted whole for «зачем дропаут?» turns a 1.5B model's answer to BatchNorm."""
    from tutor.agent.answer import QUESTION_WORDS, _candidates, names_other_terms

    top = hits[:len(chars)]
    cands, score = _candidates(question, top, lang, embedder)
    asked = question_terms(question, normalizer) - QUESTION_WORDS
    out = []
    for n, h in enumerate(top, 1):
        mine = sorted(((float(score[i]), c) for i, c in enumerate(cands) if c[0] == n), key=lambda x: -x[0])
        on_topic = [m for m in mine if set(tokenize(m[1][2])) & asked]
        if n > 1 and on_topic:
            mine = on_topic
        elif on_topic:  # the first passage keeps its context, but not a sentence about other named terms
            mine = [m for m in mine if m in on_topic or not names_other_terms(m[1][2], asked)]
        picked, used = [], 0
        for _, (_, pos, s) in mine:
            if picked and used + len(s) > chars[n - 1]:
                continue
            picked.append((pos, s[: chars[n - 1]]))
            used += len(s)
        out.append(" ".join(s for _, s in sorted(picked)) or " ".join(h.text.split())[: chars[n - 1]])
    return out


def readable(question: str, normalizer=None) -> str:
    """The question as the model should read it: chat spellings of question words and slang
    replaced («кагда дз3» → «когда домашнее задание 3»), transliterated terms glossed
    («дропаут» → «дропаут (dropout)»). A 1.5B model takes «кагда» for «каждое»."""
    if normalizer is None:
        return question
    n = normalizer.normalize(question)
    out = n.query
    for word, fix in n.fixes.items():
        first = fix.split()[0] if re.search(r"[а-яё]", fix.split()[0], re.I) else None
        if first and len(fix.split()) <= 3 and re.search(r"[а-яё]", fix, re.I) and not re.search(r"[a-z]", fix, re.I):
            new = fix  # «кагда» → «когда», «дз» → «домашнее задание»
        else:
            new = f"{word} ({fix.split()[0]})"  # «дропаут (dropout)», «лосс (loss)»
        out = re.sub(rf"(?<![\w-]){re.escape(word)}(?![\w-])", new, out, count=1, flags=re.I)
    return out


def answer_messages(question: str, hits: list[Hit], lang: str, mode: str = "explain",
                    history: list[tuple[str, str]] | None = None, follow_up: bool = False, embedder=None,
                    course_labels: list[str] | None = None, normalizer=None):
    """The chat messages of a grounded answer (see prompts.py for why they look so)."""
    from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

    lang = lang if lang in ("ru", "en") else "en"
    mode = "hint" if mode == "hint" else "explain"
    from tutor.agent.answer import course_label

    chosen = prompt_passages(hits)
    top = [hits[i] for i in chosen]
    texts = excerpts(question, top, lang, embedder, normalizer=normalizer)
    labels = [course_label(c, lang) for c in (course_labels or [h.course for h in hits])]
    blocks = []
    for i, h, text in zip(chosen, top, texts):
        title = h.headings[-1] if h.headings else h.section
        head = f"[{i + 1}] «{title}»" + (f" ({labels[i]})" if labels[i] else "")
        blocks.append(f"{head}\n{text}")
    user = f"{prompts.PASSAGES_HEAD[lang]}\n\n" + "\n\n".join(blocks)
    user += f"\n\n{prompts.QUESTION_HEAD[lang]} {readable(question, normalizer)}\n\n{prompts.ANSWER_TAIL[(lang, mode)]}"
    from tutor.agent.router import detect_language

    if any(detect_language(t) != lang for t in texts):
        user += " " + prompts.TRANSLATE_NOTE[lang]
    if len({labels[i] for i in chosen if labels[i]}) > 1:
        user += " " + prompts.COURSE_NOTE[lang]
    if follow_up and history:
        user += " " + prompts.FOLLOW_UP_TAIL[lang]
    msgs = [SystemMessage(content=prompts.ANSWER_SYSTEM[(lang, mode)])]
    for role, text in (history or [])[-HISTORY_TURNS:]:
        text = re.sub(r"\s*\[\d+(?:\s*,\s*\d+)*\]", "", text)  # old citations point at old sources
        if role == "user":
            msgs.append(HumanMessage(content=text))
        else:
            msgs.append(AIMessage(content=text[:HISTORY_ANSWER_CHARS]))
    msgs.append(HumanMessage(content=user))
    return msgs


_END = re.compile(r"[.!?…](?:\s*\[\d+(?:\s*[,;]\s*\d+)*\])*[.,;]?(?=[ \t]+[^\s\[])")
_BARE_MARKER = re.compile(r"^\s*(\d+|[a-zа-я])[.)]$|^\s*([-*•])$", re.I)


def _pop_sentence(buffer: str) -> tuple[str | None, str]:
    """(a complete sentence or line, the rest); None while the sentence goes on. A full stop
    inside a number ("0.5"), after a list number ("1. …") or before a citation ("… размер. [1]")
    does not end it; an open code block is kept whole until it closes."""
    if buffer.lstrip().startswith("```"):
        start = buffer.find("```")
        end = buffer.find("```", start + 3)
        if end == -1:
            return None, buffer
        return buffer[: end + 3].strip(), buffer[end + 3:]
    nl = buffer.find("\n")
    for m in _END.finditer(buffer):
        if nl != -1 and m.end() > nl:
            break
        sent = buffer[: m.end()].strip()
        if _BARE_MARKER.match(sent):
            continue
        return sent, buffer[m.end():]
    if nl != -1:
        line = buffer[:nl].strip()
        rest = buffer[nl:].lstrip("\n")
        if "```" in line:  # a code block starts on this line: wait for it to close
            return (None, buffer) if buffer.count("```") % 2 else (buffer.strip(), "")
        return (line or None), rest if line else rest
    return None, buffer


# The prompt's own labels, and the roles of the thread, echoed as if they were the answer
_LABEL = re.compile(
    r"^\W*(вопрос студента|фрагменты материалов курса|фрагмент\s*\d*|материалы курса|ответ|студент|тьютор|"
    r"преподаватель|student's question|student question|course passages|passage\s*\d*|answer|student|tutor)\s*:",
    re.IGNORECASE)
# Words of a sentence that says nothing: «Конечно, я помогу вам с этим.», "Sure, I can help with that."
_FILLER = frozenset(
    "конечно разумеется хорошо отлично давайте давай с удовольствием рад рада помогу помочь помогу помогаю "
    "разберёмся разберемся разберём разберем разобраться объясню расскажу постараюсь попробую вам тебе вас тебя "
    "этим этом это этого вопрос вопросом вопросе вопросы вопрос хороший отличный интересный важный ваш ваши твой "
    "спасибо за вот ответ ответы ответить отвечу ссылки ссылка ссылок ссылкам соответствующие соответствующий "
    "соответствующих фрагменты фрагмент фрагментам фрагментах фрагментов источники источник на "
    "here are is the references reference sources source passages passage relevant corresponding "
    "sure of course certainly okay ok great good happy glad help you your with that this question let's lets me "
    "explain i i'll will can would be to the a an".split())


def _bare_words(sentence: str) -> list[str]:
    return re.findall(r"[\w'-]+", _CITE.sub(" ", sentence).lower())


# words of a sentence that tells the student what they asked («Казалось бы, студенту нужно выполнить …»)
_RESTATE = frozenset(tokenize(
    "студент студенту студента вам тебе нужно надо необходимо хочет хотите хочешь спрашивает спрашиваете "
    "спрашиваешь узнать интересует интересно казалось кажется бы выполнить сделать делать вопрос понять есть "
    "student wants asks asking needs need know understand question you"))


def question_terms(question: str, normalizer=None) -> set[str]:
    """The question's terms with the materials' readings of its words («дропаут» → dropout)."""
    return set(tokenize(question if normalizer is None else normalizer.normalize(question).text))


def scaffolding(sentence: str, question: str, hits: list[Hit], normalizer=None, asked: set[str] | None = None) -> str:
    """Why a generated sentence is the prompt's scaffolding rather than an answer ("" when it is
    an answer): a label of the prompt («Вопрос студента: …»), a pleasantry that says nothing
    («Конечно, я помогу вам с этим.»), the question said back, or a passage's heading copied
    as a sentence («Домашнее задание 7 [4].»). A 1.5B model writes these between real
    sentences; the grounding check would pass them on term overlap, so they go first."""
    from index.bm25 import STOPWORDS

    if _LABEL.match(sentence):
        return "a label of the prompt"
    words = _bare_words(sentence)
    if not words:
        return ""
    if all(w in _FILLER or w in STOPWORDS for w in words):
        return "a pleasantry"
    terms = set(tokenize(" ".join(words)))
    asked = question_terms(question, normalizer) if asked is None else asked
    if len(terms) >= 2 and terms & asked and terms <= asked | _RESTATE:
        return "the question said back"
    if len(words) <= 6 and not re.search(r"\s[—–-]\s|\b(это|является|означает|is|are|means)\b", sentence, re.I):
        for h in hits[:PASSAGES_IN_PROMPT]:
            heading = set(tokenize(" ".join([h.section, *h.headings])))
            if terms and terms <= heading:
                return "a passage heading copied"
    return ""


def name_course(sentence: str, hits: list[Hit], lang: str, named: set[str]) -> str:
    """«Занятие про детекцию — 3 октября [1]» with five courses in the materials: the date is
    only true of one of them. A supported sentence that cites a course's own page (a syllabus,
    a schedule) and does not name that course gets its label in front, once per course and
    answer, as the extractive answer does for its quotes."""
    from tutor.agent.answer import course_prefix

    if len(_bare_words(sentence)) < 4:  # a fragment: a label in front of it reads as a heading
        return sentence
    for n in citations(sentence):
        hit = hits[n - 1] if 1 <= n <= len(hits) else None
        if hit is None or not hit.course:
            continue
        if hit.course in named:
            return sentence
        named.add(hit.course)
        prefix = course_prefix(hit, sentence, lang)
        return prefix + sentence[0].lower() + sentence[1:] if prefix and sentence[:1].isupper() and \
            not sentence[1:2].isupper() else prefix + sentence
    return sentence


_PRONOUN = re.compile(r"^(он|она|оно|it)\b", re.IGNORECASE)


def resolve_pronoun(sentence: str, removed: str, asked: set[str]) -> str:
    """«Он обнуляет активации [3].» after the removed «Дропаут используется для …»: the pronoun is
    the removed sentence's subject, and when that subject is what the student asked about, the
    sentence can stand with the subject named («Дропаут обнуляет активации [3].»). "" otherwise:
    «Это …» and "they" point at the removed claim itself."""
    m = _PRONOUN.match(sentence)
    first = re.match(r"\s*([\w-]+)", removed)
    if not m or not first or not set(tokenize(first.group(1))) & asked:
        return ""
    return first.group(1)[0].upper() + first.group(1)[1:] + sentence[m.end():]


_SERVED_TIMINGS = {"prompt_tokens": "prompt_n", "prompt_cached": "cache_n", "prompt_ms": "prompt_ms",
                   "prompt_tps": "prompt_per_second", "generation_tps": "predicted_per_second"}


@lru_cache(maxsize=1)
def _glossary_latin() -> frozenset[str]:
    """The Latin words of the glossary's readings (GRU, dropout), made once."""
    from index.wording import STUDENT_TERMS

    return frozenset(w.lower() for canon in STUDENT_TERMS.values() for w in canon.split())


_MIXED = re.compile(r"\b(?=[A-Za-z]*[А-Яа-яЁё])(?=[А-Яа-яЁё]*[A-Za-z])[A-Za-zА-Яа-яЁё]{2,}\b")


def unmix_scripts(sentence: str, normalizer=None) -> str:
    """«ГRU» → «GRU»: a 1.5B model starts a Latin term with a Cyrillic letter after reading the
    Russian «гру». A word mixing the two scripts is spelled in Latin when that spelling is a
    term of the materials; other mixed words stay as written."""
    vocab = getattr(normalizer, "vocab", None)
    if vocab is None or not _MIXED.search(sentence):
        return sentence
    from index.wording import translit

    def fix(m: re.Match) -> str:
        word = m.group(0)
        latin = "".join(translit(ch) if re.match(r"[А-Яа-яЁё]", ch) else ch for ch in word)  # translit lowercases
        if latin.lower() not in vocab.latin and latin.lower() not in _glossary_latin():
            return word
        return latin.upper() if sum(ch.isupper() for ch in word) > len(word) / 2 else latin

    return _MIXED.sub(fix, sentence)


def is_refusal(sentence: str) -> bool:
    return bool(_REFUSAL.search(sentence))


async def write_answer(question: str, hits: list[Hit], lang: str, chat, mode: str = "explain",
                       history: list[tuple[str, str]] | None = None, follow_up: bool = False, embedder=None,
                       normalizer=None, fallback=None, max_tokens: int = MAX_ANSWER_TOKENS,
                       course_labels: list[str] | None = None) -> AsyncIterator[str | AnswerResult]:
    """Yield the text to show as it passes the checks, then one AnswerResult.
    `fallback(reason)` returns the answer that replaces the LLM's (the extractive one), called only then."""
    t0 = time.perf_counter()
    timings: dict = {}
    msgs = answer_messages(question, hits, lang, mode, history, follow_up, embedder, course_labels, normalizer)
    grounder = Grounder(hits, lang, embedder, normalizer)
    buffer, held, shown, raw = "", [], [], ""
    dropped: list[SentenceCheck] = []
    kept_claims, tokens = 0, 0
    reason = ""
    last: list = [None]
    named: set[str] = set()  # courses the shown answer has already named

    def release(check: SentenceCheck):
        nonlocal kept_claims
        if check.claim and check.supported and dropped and dropped[-1] is last[0] and _ANAPHORA.match(check.text):
            # «Это позволяет …» right after a removed sentence speaks of what was removed. «Он обнуляет …»
            # after a removed «Дропаут используется …» speaks of the asked topic: it is named instead
            named_again = resolve_pronoun(check.text, dropped[-1].text, asked_terms)
            if named_again:
                check.text = named_again
            else:
                check.supported, check.reason = False, "refers to a removed sentence"
        last[0] = check
        if check.claim and check.supported:
            if is_refusal(check.text):
                dropped.append(check)
                return []
            if _CITE.sub("", check.text).rstrip().endswith(":"):  # «… по нескольким причинам:» is shown
                held.append(name_course(check.text, hits, lang, named))  # with the list it opens, or not at all
                return []
            kept_claims += 1
            out = held + [name_course(check.text, hits, lang, named)]
            held.clear()
            shown.extend(out)
            return out
        if check.claim:  # unsupported: dropped, never shown
            dropped.append(check)
            log.info("answer sentence dropped (%s): %s", check.reason, check.text[:200])
            return []
        if kept_claims or mode == "hint":  # in a hint the guiding questions are the content
            shown.extend(held + [check.text])
            out = held + [check.text]
            held.clear()
            return out
        held.append(check.text)
        return []

    from tutor.agent.answer import QUESTION_WORDS

    asked_all = question_terms(question, normalizer)  # once per answer, not per sentence
    asked_terms = asked_all - QUESTION_WORDS
    scaffold: list[str] = []
    written: list[set[str]] = []  # the terms of every sentence the model wrote this answer
    repeats = [0]

    def keep(sentence: str) -> bool:
        why = scaffolding(sentence, question, hits, normalizer, asked_all)
        terms = set(tokenize(_CITE.sub(" ", sentence)))
        # a shorter echo of a shown sentence (a removed one said nothing, so it is not echoed)
        echoes = len(terms) >= 4 and any(
            len(terms & set(tokenize(_CITE.sub(" ", s)))) >= REPEAT_CONTAINED * len(terms) for s in shown)
        if not why and terms and (echoes or any(len(terms & w) >= REPEAT_OVERLAP * len(terms | w) for w in written)):
            why = "a repeat"  # a small model loops: «Вот объяснение проще:» and the same three sentences
            repeats[0] += 1
        written.append(terms)
        if why:
            scaffold.append(sentence)
            log.info("answer sentence skipped (%s): %s", why, sentence[:200])
        return not why

    emitted = []

    def emit(parts: list[str]) -> str:
        if not timings.get("first_shown_s") and parts:
            timings["first_shown_s"] = round(time.perf_counter() - t0, 3)
        out = ""
        for p in parts:
            out += (separator(emitted[-1], p) if emitted else "") + p
            emitted.append(p)
        return out

    try:
        async for chunk in chat.astream(msgs, max_tokens=max_tokens):
            piece = chunk.content if isinstance(chunk.content, str) else ""
            served = (getattr(chunk, "response_metadata", None) or {}).get("timings") or {}
            if served:  # llama.cpp's own count: how much of the prompt was evaluated, how much came from its cache
                timings.update({k: served[v] for k, v in _SERVED_TIMINGS.items() if isinstance(served.get(v), (int, float))})
            if not piece:
                continue
            if "first_token_s" not in timings:
                timings["first_token_s"] = round(time.perf_counter() - t0, 3)
            tokens += 1
            raw += piece
            buffer += piece
            if len(raw) >= 80 and not shown and not language_ok(raw, lang):
                reason = f"answer not in {lang}"
                break
            while True:
                sent, buffer = _pop_sentence(buffer)
                if sent is None:
                    break
                sent = unmix_scripts(sent, normalizer)
                if not keep(sent):
                    if repeats[0] >= STOP_AFTER_REPEATS:
                        break
                    continue
                out = release(grounder.check(sent))
                if out and mode != "hint":
                    yield emit(out)
            if repeats[0] >= STOP_AFTER_REPEATS:
                log.info("the model repeats itself: generation stopped")
                buffer = ""
                break
            if not kept_claims and len(dropped) >= GIVE_UP_AFTER_DROPPED:
                reason = f"{len(dropped)} unsupported sentences before any supported one"
                break
        last_sentence = unmix_scripts(buffer.strip(), normalizer)
        if not reason and last_sentence and keep(last_sentence):
            out = release(grounder.check(last_sentence))
            if out and mode != "hint":
                yield emit(out)
    except Exception as e:  # a backend failure mid-answer: what passed stays, else the fallback
        log.warning("LLM failed while answering: %s", e)
        reason = reason or f"LLM error: {type(e).__name__}"
    timings.update(total_s=round(time.perf_counter() - t0, 3), tokens=tokens)
    if not reason and not kept_claims:
        reason = ("the model said the materials do not cover it" if dropped and all(is_refusal(d.text) for d in dropped)
                  else "no supported claim" if dropped else "empty answer")
    if not reason and len(dropped) > kept_claims:
        reason = f"{len(dropped)} of {len(dropped) + kept_claims} claims unsupported"  # repaired, but mostly wrong
    if mode == "hint" and shown:  # hints are shown whole: code is removed from the full reply first
        from tutor.agent.answer import strip_code

        hint = strip_code(join_sentences(shown))
        if not hint:
            reason = reason or "not a hint (no guiding question, no citation, or only code)"
            kept_claims, shown = 0, []
        else:
            shown = [hint]
            if not reason or "claims unsupported" in reason or reason in ("no supported claim", "empty answer"):
                reason = ""  # a hint asks more than it claims: its questions and pointers are the answer
                kept_claims = max(kept_claims, len(dropped) + 1)
    if reason and (not kept_claims or len(dropped) > kept_claims):
        log.info("generated answer replaced by the extractive one: %s", reason)
        extractive = fallback(reason) if fallback else ""
        if not shown or mode == "hint":
            yield extractive
            yield AnswerResult(text=extractive, style="extractive", reason=reason, dropped=dropped, timings=timings,
                               raw=raw)
            return
        # sentences already shown stay; the extractive quotes follow them
        yield "\n\n" + extractive
        yield AnswerResult(text=join_sentences(shown) + "\n\n" + extractive, style="generative+extractive",
                           reason=reason, dropped=dropped, kept_claims=kept_claims, timings=timings, raw=raw)
        return
    text = join_sentences(shown)
    if mode == "hint":
        yield text
    if dropped:
        reason = reason or f"{len(dropped)} unsupported sentence(s) removed"
        log.info("generated answer repaired: %s", reason)
    yield AnswerResult(text=text, style="generative", reason=reason, dropped=dropped, kept_claims=kept_claims,
                       timings=timings, raw=raw)


def cited_numbers(text: str) -> set[int]:
    return set(citations(text))
