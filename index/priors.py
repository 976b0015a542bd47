"""Query-type priors for the first hit, added to the fused retrieval score.

The first hit is what citation [1] quotes and what a small LLM leans on most, and
fused BM25+dense ranks are blind to what kind of question it is:

- a logistics question («когда занятие про сегментацию», «сколько баллов за дз»)
  is answered by a course's own pages (syllabus, schedule, homework, grading), while
  a concept question («что такое attention», «чем LSTM отличается от GRU») is answered
  by the lectures, not by the schedule line that names the topic;
- a page of example commands for a tool («обучи LSTM…», "/run rnn …") names the concept
  many times without explaining it.

Each prior is a small bonus on the fused score of the top candidates (reciprocal rank
fusion gives ~0.048 to a first BM25 rank, ~0.024 to the 20th), tuned on the dev half of
tests/evals/syllabus_questions.jsonl, the student and corpus questions. Two more priors were
tried and dropped: the course a question names and the numbered item («урок 8», «дз 3»)
changed nothing on the dev questions and cost held-out ones (hw_2 of course 3 is not
«домашнее задание 2» of course 1).
"""

from __future__ import annotations

import re


LOGISTICS_BONUS = 0.02
CONCEPT_BONUS = 0.01

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

_COMMANDS = re.compile(r"(^|\s|«)/(run|compare|search|mode)\b|\brun \w+ (smoke|quick|full)\b|"
                       r"[«\"](обучи|запусти|натренируй|сравни|train|run|compare)\b", re.IGNORECASE)


def is_usage_page(text: str) -> bool:
    """A page of example commands for the tutor's tools («/run rnn task=forecast», "train an LSTM…"):
    how to run an experiment, not an explanation of the concept it names."""
    return len(_COMMANDS.findall(text)) >= 2


def prior(query: str, chunk_course: str, usage_page: bool = False) -> float:
    """The bonus of one candidate chunk for this query (see the module doc)."""
    bonus = 0.0
    logistics = bool(LOGISTICS.search(query))
    if logistics and chunk_course:
        bonus += LOGISTICS_BONUS
    elif not logistics and CONCEPT.search(query) and not chunk_course:
        bonus += -CONCEPT_BONUS if usage_page else CONCEPT_BONUS
    return bonus
