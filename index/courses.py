"""Which course a passage belongs to, derived from the indexed material itself.

The materials hold several courses (five syllabi and the handbook that describes them).
A date, a homework or a grading rule means little without its course, so every chunk
gets a course label when the material says which one it is:

- the catalogue: headings that name a course, «Курс 1 «Нейросетевые технологии» (файл 000)»,
  give course numbers, names and the source files they describe;
- a syllabus file named in the catalogue (file 000 → course 1) belongs to that course;
- a handbook chunk belongs to the course named in its heading path, or else to the one
  course its section names in the text («Задание 2 курса 1 выдаётся …»); sub-sections
  inherit it (the bonus items of homework 4 are course 1's);
- anything else (the lectures, the tool pages) is general material: no label.

Nothing here knows the courses in advance: another set of syllabi with a handbook in the
same style gets its own labels. Queries that name a course («в курсе на керасе», «курс 5»,
"MSU course") are recognised by the course's number or by the words of its names that no
other course's name has.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from index.bm25 import tokenize

_CATALOGUE = re.compile(r"\b[Кк]урс\s+(\d{1,2})\s*[«\"“]([^»\"”]{2,80})[»\"”](?:[^()]*\((?:файл|file)\s+(\d{3})\))?")
_MENTION = re.compile(r"\b(?:курс[а-яё]*|courses?)\s+(\d{1,2})(?:\s*[–-]\s*(\d{1,2}))?\b", re.IGNORECASE)
_COURSE_WORD = re.compile(r"\bкурс|\bcourse|\bпрограмм|\bprogram", re.IGNORECASE)
_MARKUP = re.compile(r"<[^>]+>|\[([^\]]*)\]\([^)]*\)|[#*_`]")
# words of course names too common to tell courses apart
_GENERIC = frozenset(tokenize("курс курса нейронные нейросети сети сетей обучение обучения урок уроков лекций лекции "
                              "и в на для их course lessons lectures neural networks"))


@dataclass
class Course:
    number: str
    name: str
    files: set[str] = field(default_factory=set)  # three-digit file prefixes ("000")
    titles: set[str] = field(default_factory=set)  # title lines of its syllabus files

    def label(self, lang: str = "ru") -> str:
        return f"курс {self.number} «{self.name}»" if lang == "ru" else f"course {self.number} “{self.name}”"


def clean_title(title: str) -> str:
    """A file's title line without Markdown/HTML markup ("[Фреймворк PyTorch …](url)")."""
    return " ".join(_MARKUP.sub(lambda m: m.group(1) or " ", title or "").split())


class CourseCatalogue:
    """Course of every chunk of one index (see the module doc). `chunks` are index.chunking.Chunk."""

    def __init__(self, chunks: list) -> None:
        self.courses: dict[str, Course] = {}
        for c in chunks:
            for h in c.headings:
                for m in _CATALOGUE.finditer(h):
                    num, name, file = m.group(1), m.group(2).strip(), m.group(3)
                    course = self.courses.setdefault(num, Course(num, name))
                    if file:
                        course.files.add(file)
        by_file = {f: n for n, c in self.courses.items() for f in c.files}
        for c in chunks:
            num = by_file.get(PurePosixPath(c.source).name[:3])
            if num and c.title:
                self.courses[num].titles.add(clean_title(c.title))
        # what each section (source, heading path) names: the courses in its headings, else in its text
        named: dict[tuple, set[str]] = {}
        for c in chunks:
            found = self._mentions(" ".join(c.headings)) or self._mentions(c.text)
            named.setdefault((c.source, tuple(c.headings)), set()).update(found)
        self._chunk_course: list[str] = []
        for c in chunks:
            num = by_file.get(PurePosixPath(c.source).name[:3])
            # else the innermost enclosing section that names courses decides, if it names one
            for depth in range(len(c.headings), -1, -1):
                if num:
                    break
                found = named.get((c.source, tuple(c.headings[:depth]))) or set()
                if len(found) == 1:
                    num = next(iter(found))
                elif found:
                    break
            self._chunk_course.append(num or "")
        self._words = self._distinctive_words()

    def _mentions(self, text: str) -> set[str]:
        out: set[str] = set()
        for m in _MENTION.finditer(text):
            lo, hi = int(m.group(1)), int(m.group(2) or m.group(1))
            out.update(str(n) for n in range(lo, min(hi, lo + 20) + 1) if str(n) in self.courses)
        return out

    def _distinctive_words(self) -> dict[str, set[str]]:
        words = {n: {t for name in [c.name, *c.titles] for t in tokenize(name) if not t.isdigit()} - _GENERIC
                 for n, c in self.courses.items()}
        return {n: {t for t in ws if not any(t in other for m, other in words.items() if m != n)}
                for n, ws in words.items()}

    def course_number(self, i: int) -> str:
        """Course number of chunk i ("" for general material)."""
        return self._chunk_course[i] if 0 <= i < len(self._chunk_course) else ""

    def label(self, number: str, lang: str = "ru") -> str:
        c = self.courses.get(number)
        return c.label(lang) if c else ""

    def named_in(self, query: str) -> set[str]:
        """Courses the query names: by number («курс 5», «в курсе 1»), or by the words of a
        course's names no other course has, when the query speaks of a course or uses two of them
        («в курсе на керасе», «курс МГУ», «основы глубокого обучения»)."""
        found = self._mentions(query)
        terms = set(tokenize(query))
        speaks_of_course = bool(_COURSE_WORD.search(query))
        for n, ws in self._words.items():
            hits = terms & ws
            if hits and (speaks_of_course or len(hits) >= 2):
                found.add(n)
        return found
