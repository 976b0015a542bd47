"""What a turn runs with: the shared services (created lazily, once per process) and the
per-run context LangGraph hands every node (`Runtime[TurnContext]`): the chat model chosen
for this turn, who is asking, in which thread."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from tutor.llm.base import LLMCapabilities
from tutor.settings import Settings

log = logging.getLogger(__name__)

NO_LLM = LLMCapabilities(name="none", languages=("ru", "en"), streaming=False)


class Services:
    """The collaborators of every turn: retrieval index, job queue, thread store, default LLM."""

    def __init__(self, settings: Settings, index=None, jobs=None, llm=None, threads=None) -> None:
        self.settings = settings
        self._index, self._jobs, self._llm, self._threads = index, jobs, llm, threads
        self._courses = self._materials = self._course_indexes = None

    @property
    def index(self):
        if self._index is None:
            from index.search import HybridIndex

            st = self.settings
            self._index = HybridIndex.load(st.index_dir, rrf_k=st.rrf_k, use_gpu=st.use_gpu_index,
                                           dense_weight=st.dense_weight, heading_weight=st.heading_weight)
        return self._index

    @property
    def jobs(self):
        if self._jobs is None:
            from tutor.jobs.service import JobService

            self._jobs = JobService(self.settings)
        return self._jobs

    @property
    def threads(self):
        if self._threads is None:
            from tutor.agent.threads import ThreadStore
            from tutor.db import get_engine

            self._threads = ThreadStore(get_engine(self.settings))
        return self._threads

    # ---- courses (tutor/courses) ------------------------------------------------------------------
    @property
    def courses(self):
        """CourseService: courses, settings, membership, homework policy."""
        if self._courses is None:
            from tutor.courses.service import CourseService
            from tutor.db import get_engine

            self._courses = CourseService(self.settings, get_engine(self.settings))
        return self._courses

    @property
    def materials(self):
        """MaterialService: a course's uploaded materials and their index."""
        if self._materials is None:
            from tutor.courses.materials import MaterialService

            self._materials = MaterialService(self.settings, self.courses)
        return self._materials

    def index_for(self, course: str | None):
        """The course's searcher: the shared index fused with the course's own (tutor/courses/search.py),
        cached per course and reloaded when its materials change."""
        if self._course_indexes is None:
            from tutor.courses.search import CourseIndexes

            self._course_indexes = CourseIndexes(self.settings, lambda: self.index, self.materials.index_dir)
        return self._course_indexes.for_course(course)

    @property
    def llm(self) -> tuple[Any, LLMCapabilities]:
        """The configured (chat model, capabilities); raises LLMUnavailable."""
        if self._llm is None:
            from tutor.llm import get_llm

            self._llm = get_llm(self.settings)
        return self._llm

    def safe_llm(self) -> tuple[Any, LLMCapabilities]:
        try:
            return self.llm
        except Exception as e:  # a broken LLM still leaves extractive answers
            log.warning("LLM unavailable, answering extractively: %s", e)
            return None, NO_LLM

    def topics(self) -> list[str]:
        """Lecture titles of the indexed corpus, for 'what the course covers'."""
        titles: list[str] = []
        try:
            for src, meta in self.index.manifest.get("files", {}).items():
                if "lectures/" in src and meta.get("title") and meta["title"] not in titles:
                    titles.append(meta["title"])
        except Exception:  # no index: answer without a list
            pass
        return titles or ["CNN", "детекция", "сегментация", "RNN/LSTM", "трансформеры", "GAN", "RL/DQN"]


@dataclass
class TurnContext:
    services: Services
    user: str
    thread_id: str
    chat: Any = None  # the chat model of this turn (None: extractive answers, rules only)
    caps: LLMCapabilities = field(default_factory=lambda: NO_LLM)
    plan_only: bool = False
    course: str | None = None  # the course of this turn (tutor/courses); None: no course rules
    course_bound: bool = False  # the account belongs to that course: /course cannot switch it
    _policy: Any = None

    @property
    def index(self):
        """The retrieval index of this turn's course (the shared one without a course)."""
        return self.services.index_for(self.course) if self.course else self.services.index

    @property
    def policy(self):
        """The course's rules for this student (homework deadlines, weekly budget), or None."""
        if self._policy is None and self.course:
            try:
                self._policy = self.services.courses.policy(self.course, self.user)
            except Exception as e:  # the rules cannot be read: the turn goes on without them, logged
                log.warning("course %s: policy unavailable: %s", self.course, e)
        return self._policy

    def homework_item(self, question: str, hits: list | None = None):
        """The course's homework item this question is about and must be answered with hints now."""
        policy = self.policy
        return policy.homework_item(question, hits) if policy is not None else None

    @property
    def settings(self) -> Settings:
        return self.services.settings

    def writer(self, lang: str):
        """The chat model when it writes answers in this language (else None: extractive answers)."""
        if self.chat is not None and self.caps.generative_answers and self.caps.speaks(lang):
            return self.chat
        return None

    def normalize(self, text: str):
        """Student wording read against the index vocabulary (index.wording); None without an index."""
        try:
            return self.services.index.normalizer.normalize(text)
        except Exception:
            return None

    @property
    def can_call_tools(self) -> bool:
        return self.chat is not None and self.caps.can_call_tools

    @property
    def loop_for_questions(self) -> bool:
        """Whether plain course questions also go through the agent loop. 'auto': with native
        tool calls (a served model, fast), yes; with JSON calls (the embedded model on a CPU) the
        loop's extra model call doubles the latency, so questions take the checked
        retrieve → answer path and the loop handles runs, results and comparisons."""
        from tutor.llm.base import ToolCalling

        mode = self.settings.agent_loop
        return mode == "always" or (mode == "auto" and self.caps.tool_calling is ToolCalling.NATIVE)
