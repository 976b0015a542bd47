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
same style gets its own labels.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath


_CATALOGUE = re.compile(r"\b[Кк]урс\s+(\d{1,2})\s*[«\"“]([^»\"”]{2,80})[»\"”](?:[^()]*\((?:файл|file)\s+(\d{3})\))?")
_MENTION = re.compile(r"\b(?:курс[а-яё]*|courses?)\s+(\d{1,2})(?:\s*[–-]\s*(\d{1,2}))?\b", re.IGNORECASE)
@dataclass
class Course:
    number: str
    name: str
    files: set[str] = field(default_factory=set)  # three-digit file prefixes ("000")

    def label(self, lang: str = "ru") -> str:
        return f"курс {self.number} «{self.name}»" if lang == "ru" else f"course {self.number} “{self.name}”"


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

    def _mentions(self, text: str) -> set[str]:
        out: set[str] = set()
        for m in _MENTION.finditer(text):
            lo, hi = int(m.group(1)), int(m.group(2) or m.group(1))
            out.update(str(n) for n in range(lo, min(hi, lo + 20) + 1) if str(n) in self.courses)
        return out

    def course_number(self, i: int) -> str:
        """Course number of chunk i ("" for general material)."""
        return self._chunk_course[i] if 0 <= i < len(self._chunk_course) else ""

    def label(self, number: str, lang: str = "ru") -> str:
        c = self.courses.get(number)
        return c.label(lang) if c else ""
