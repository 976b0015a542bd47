"""Query-type priors for the first hit, added to the fused retrieval score.

The first hit is what citation [1] quotes and what a small LLM leans on most, and
fused BM25+dense ranks are blind to what kind of question it is:

- a logistics question («когда занятие про сегментацию», «сколько баллов за дз»)
  is answered by a course's own pages (syllabus, schedule, homework, grading), while
  a concept question («что такое attention», «чем LSTM отличается от GRU») is answered
  by the lectures, not by the schedule line that names the topic;
- a question that names a course («в курсе на керасе», «курс 5») wants that course's
  pages, and another course's page with the same topic is the wrong first hit;
- a numbered item («урок 8», «дз 3», «третье занятие», «лекция №9») is the section
  whose heading carries that number, not its neighbours.

Each prior is a small bonus on the fused score of the top candidates (reciprocal rank
fusion gives ~0.048 to a first BM25 rank, ~0.024 to the 20th), tuned on the dev half of
tests/evals/syllabus_questions.jsonl and the corpus questions; the held-out half is
measured, never tuned on.
"""

from __future__ import annotations

import re

from index.bm25 import tokenize

LOGISTICS_BONUS = 0.012
CONCEPT_BONUS = 0.008
COURSE_BONUS = 0.015
ITEM_BONUS = 0.02

LOGISTICS = re.compile(
    r"когда|кагда|\bдат[аыу]\b|дедлайн|\bсрок|сдава|\bсдат|сдаю|отправ|присыла|домашн|домашк|\bдз|задани|заняти|\bурок|"
    r"лекци|семинар|\bбалл|оценк|оценива|экзамен|\bзач[её]т|проект|расписани|пререквизит|прериквизит|\bкурс|бонус|"
    r"\bhw\b|homework|assignment|lesson|lecture|seminar|deadline|\bexam|grad(e|ing)|points|schedule|course|syllabus|"
    r"prerequisite|bonus|project|\bdue\b",
    re.IGNORECASE)
CONCEPT = re.compile(
    r"что так|что значит|что делает|как работа|как устроен|как счита|как вычисл|зачем|почему|чем отлича|отличаеть|"
    r"разниц|объясн|обьясн|формул|пример|\bwhat is\b|\bwhat are\b|\bwhat does\b|how does|how do|how is|\bwhy\b|"
    r"лучше|хуже|\bvs\b|против|better|worse|versus|difference|explain|formula|example|define|definition",
    re.IGNORECASE)

# kinds of numbered course items; the stems as index.bm25.tokenize gives them
_ITEM_KIND = {"занят": "lesson", "урок": "lesson", "lesson": "lesson", "class": "lesson", "лекц": "lecture",
              "lectur": "lecture", "семинар": "seminar", "seminar": "seminar", "задан": "homework", "дз": "homework",
              "hw": "homework", "homework": "homework", "assign": "homework"}
_NUMBER = re.compile(r"^\d{1,2}$")


def numbered_items(text: str) -> set[tuple[str, str]]:
    """(kind, number) pairs named in a text: «урок 8», «дз 3», «третье занятие», "lecture 9"."""
    toks = tokenize(text.replace("№", " "))
    out = set()
    for i, t in enumerate(toks):
        kind = _ITEM_KIND.get(t)
        if not kind:
            continue
        for j in (i + 1, i - 1):
            if 0 <= j < len(toks) and _NUMBER.match(toks[j]):
                out.add((kind, toks[j]))
                break
    return out


def heading_items(headings: list[str]) -> set[tuple[str, str]]:
    """Numbered items a heading path names; a heading that starts with a number ("8. Прямые и
    свёрточные сети") is a numbered lesson."""
    out = set()
    for h in headings:
        out |= numbered_items(h)
        m = re.match(r"\s*(\d{1,2})[.)]?\s", h)
        if m:
            out.add(("lesson", m.group(1)))
    return out


_COMMANDS = re.compile(r"(^|\s|«)/(run|compare|search|mode)\b|\brun \w+ (smoke|quick|full)\b|"
                       r"[«\"](обучи|запусти|натренируй|сравни|train|run|compare)\b", re.IGNORECASE)


def is_usage_page(text: str) -> bool:
    """A page of example commands for the tutor's tools («/run rnn task=forecast», "train an LSTM…"):
    how to run an experiment, not an explanation of the concept it names."""
    return len(_COMMANDS.findall(text)) >= 2


def prior(query: str, q_items: set[tuple[str, str]], named_courses: set[str], chunk_course: str,
          chunk_items: set[tuple[str, str]], usage_page: bool = False) -> float:
    """The bonus of one candidate chunk for this query (see the module doc)."""
    bonus = 0.0
    logistics = bool(LOGISTICS.search(query))
    if logistics and chunk_course:
        bonus += LOGISTICS_BONUS
    elif not logistics and CONCEPT.search(query) and not chunk_course:
        bonus += -CONCEPT_BONUS if usage_page else CONCEPT_BONUS
    if named_courses and chunk_course:
        bonus += COURSE_BONUS if chunk_course in named_courses else -COURSE_BONUS
    if q_items:
        if q_items & chunk_items:
            bonus += ITEM_BONUS
        elif {n for _, n in q_items} & {n for k, n in chunk_items if k in ("lesson", "lecture")} and \
                {k for k, _ in q_items} <= {"lesson", "lecture"}:
            bonus += ITEM_BONUS / 2  # «лекция 12» of a course that calls it «занятие 12»
        elif {k for k, _ in q_items} & {k for k, _ in chunk_items}:
            bonus -= ITEM_BONUS / 2  # the same kind of item with another number
    return bonus
