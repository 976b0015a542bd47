"""Follow-ups keep the thread: «объясни проще», «приведи пример», «а зачем?», "how do I fix
it?" are rewritten into a standalone query before retrieval.

Retrieval on the message alone finds nothing for «а зачем?». So:
1. `is_follow_up` decides whether the message leans on the thread: it is short and
   names no course topic, or starts like a continuation («а …», "and …"), or refers
   back with a pronoun («с ним», "it", «к нему»);
2. the LLM (when one that writes is configured) rewrites it into a standalone question
   from the last turns (prompts.REWRITE_*), bounded in time and checked: one line, not
   an answer, about the thread's topic;
3. otherwise, or when the LLM's rewrite fails those checks, the rule: the previous
   standalone question plus what the message adds («что такое коллапс мод» + «как с ним
   бороться» → «что такое коллапс мод как с ним бороться»).

History items are (role, text) pairs, oldest first; a user turn's text is the standalone
question it was answered as (the service stores it with the answer), so chains of
follow-ups stay anchored to the topic.
"""

from __future__ import annotations

import asyncio
import logging
import re

from index.bm25 import tokenize

log = logging.getLogger(__name__)

REWRITE_TIMEOUT_S = 8.0
REWRITE_MAX_TOKENS = 48

_CONTINUATION = re.compile(r"^\s*(а|и|но|ну|так|тогда|and|but|so|then|what about|how about)\b", re.IGNORECASE)
_REFERS_BACK = re.compile(
    r"\b(он|она|оно|они|его|её|ее|их|ему|ей|им|ним|ней|нему|них|этот|эта|это|этого|этому|этой|эти|этих|тот|того|"
    r"там|тут|здесь|туда|it|its|this|that|these|those|they|them|there)\b", re.IGNORECASE)
_REQUEST_ONLY = re.compile(
    r"^\s*(объясни|поясни|расскажи|покажи|приведи|дай|скажи|можно|давай|а|ну)?\s*(пожалуйста\s+)?"
    r"(проще|попроще|подробнее|пример\w*|ещё|еще|зачем|почему|как|why|how|example|simpler|more|again|details?)\b",
    re.IGNORECASE)
MAX_FOLLOW_UP_WORDS = 9


def _words(text: str) -> list[str]:
    return re.findall(r"[\w'-]+", text)


def is_follow_up(message: str, history: list[tuple[str, str]], course_words: list[str] | None = None) -> bool:
    """Does the message lean on the thread? `course_words` are the message's words that name
    course topics (index.wording.Normalized.course_words), when the caller has them."""
    if not any(role == "user" for role, _ in history):
        return False
    words = _words(message)
    if not words or len(words) > MAX_FOLLOW_UP_WORDS:
        return False
    names_topic = bool(course_words) if course_words is not None else bool(
        {t for t in tokenize(message)} - _FUNCTION_STEMS)
    if _REQUEST_ONLY.match(message) and not names_topic:
        return True
    if names_topic and new_topic(message, history, course_words) and not _REFERS_BACK.search(message):
        return False  # «а зачем дропаут?» after a GAN question is a question of its own
    if _CONTINUATION.match(message):
        return True
    if _REFERS_BACK.search(message) and (not names_topic or len(words) <= 5):
        return True
    return not names_topic


_QUESTION = re.compile(r"\b(что|как|зачем|почему|когда|где|сколько|какой|какая|какое|какие|каким|чем|кто|чего|"
                       r"объясни|поясни|расскажи|what|why|how|when|where|which|who|explain|tell)\b", re.IGNORECASE)


def new_topic(message: str, history: list[tuple[str, str]], course_words: list[str] | None) -> bool:
    """A whole question («а зачем дропаут?»: a question word and a course topic) about a topic the
    last turns never mention. «а для LSTM?» has no question word: it borrows the question
    from the thread, and stays a follow-up."""
    if not course_words or not _QUESTION.search(message):
        return False
    said = set(tokenize(" ".join(text for _, text in history[-4:])))
    return not any(set(tokenize(w)) & said for w in course_words)


_FUNCTION_STEMS = frozenset(tokenize(
    "объясни поясни расскажи покажи приведи пример проще попроще подробнее зачем почему нужно надо можно "
    "пожалуйста сделать делать бороться исправить починить fix explain simpler example why how more details"))


def last_question(history: list[tuple[str, str]]) -> str:
    return next((text for role, text in reversed(history) if role == "user"), "")


_STYLE_ONLY = re.compile(
    r"^\s*(объясни|поясни|расскажи|покажи|приведи|дай|скажи|можно|давай|а|ну)?\s*(пожалуйста\s+)?"
    r"(проще|попроще|подробнее|пример\w*|ещё|еще|simpler|more|again|details?|an example|example)"
    r"(\s+(пожалуйста|please))?\s*$", re.IGNORECASE)


def style_only(message: str) -> bool:
    """«объясни проще», «приведи пример», "simpler": the same question, answered otherwise; nothing to search for."""
    return bool(_STYLE_ONLY.fullmatch(message.strip(" ?!.")))


_ASKING = re.compile(r"^(такое|такой|такая|такие|это|is|are|was|a|an|the|does|do)$", re.IGNORECASE)


def rule_standalone(message: str, history: list[tuple[str, str]]) -> str:
    """The previous standalone question plus what the message adds. When the message asks its own
    question («а чем она лучше лстм?» after «что такое гру»), the previous one gives only its topic
    («гру а чем лучше лстм»): its «что такое» would turn the answer back to the definition."""
    prev = last_question(history)
    extra = " ".join(w for w in _words(message) if not _REFERS_BACK.fullmatch(w))
    if not extra or style_only(message):
        return prev or message
    if prev and _QUESTION.search(message):
        topic = [w for w in _words(prev) if not _QUESTION.fullmatch(w) and not _ASKING.fullmatch(w)]
        prev = " ".join(topic) if topic else prev
    return f"{prev} {extra}".strip()


def _dialogue(history: list[tuple[str, str]], lang: str, turns: int = 4, answer_chars: int = 240) -> str:
    from tutor.agent.prompts import ROLE_NAMES

    student, tutor = ROLE_NAMES.get(lang, ROLE_NAMES["en"])
    lines = []
    for role, text in history[-turns:]:
        text = " ".join(text.split())
        if role == "user":
            lines.append(f"{student}: {text}")
        else:
            lines.append(f"{tutor}: {text[:answer_chars]}{'…' if len(text) > answer_chars else ''}")
    return "\n".join(lines)


def _acceptable(rewrite: str, message: str, history: list[tuple[str, str]]) -> bool:
    """One line, question-sized, not an answer, and about the thread or the message."""
    if not rewrite or "\n" in rewrite or not 4 <= len(rewrite) <= 300 or re.search(r"\[\d+\]", rewrite):
        return False
    if re.match(r"^(студент|тьютор|student|tutor)\s*:", rewrite, re.IGNORECASE):
        return False
    topic = set(tokenize(" ".join(t for r, t in history[-4:]) + " " + message))
    return bool(set(tokenize(rewrite)) & topic)


async def llm_standalone(message: str, history: list[tuple[str, str]], chat, lang: str,
                         timeout_s: float = REWRITE_TIMEOUT_S) -> str | None:
    """The LLM's standalone rewrite, or None (timeout, error, or a reply that is not a question)."""
    from langchain_core.messages import HumanMessage, SystemMessage

    from tutor.agent.prompts import REWRITE_SYSTEM, REWRITE_USER

    msgs = [SystemMessage(content=REWRITE_SYSTEM),
            HumanMessage(content=REWRITE_USER.get(lang, REWRITE_USER["en"]).format(
                dialogue=_dialogue(history, lang), message=message))]
    try:
        reply = await asyncio.wait_for(chat.ainvoke(msgs, max_tokens=REWRITE_MAX_TOKENS, temperature=0.0),
                                       timeout=timeout_s)
    except Exception as e:  # timeout or backend error: the rule answers
        log.info("follow-up rewrite by the LLM failed (%s), using the rule", type(e).__name__)
        return None
    text = reply.content if isinstance(reply.content, str) else ""
    text = text.strip().strip('"«»').split("\n")[0].strip()
    return text if _acceptable(text, message, history) else None


async def standalone_query(message: str, history: list[tuple[str, str]], chat=None, lang: str = "ru",
                           course_words: list[str] | None = None,
                           timeout_s: float = REWRITE_TIMEOUT_S) -> tuple[str, str]:
    """(query for retrieval, how it was made: "as_is" | "llm" | "rule")."""
    if not is_follow_up(message, history, course_words):
        return message, "as_is"
    if chat is not None and not style_only(message):
        # «объясни проще», «приведи пример» add nothing to search for: the thread's question is the
        # query, and the model's rewrite (a second prompt, 5-8 s on 2 cores) is skipped
        rewrite = await llm_standalone(message, history, chat, lang, timeout_s)
        if rewrite:
            return rewrite, "llm"
    return rule_standalone(message, history), "rule"
