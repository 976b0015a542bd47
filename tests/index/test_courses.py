"""index.courses: each passage's course comes from the material's own catalogue."""

from index.chunking import Chunk
from index.courses import CourseCatalogue


def chunk(source, headings, text, title="T"):
    return Chunk(id=source + str(len(text)), text=text, source=source, title=title, headings=headings, anchor="L1-2")


CHUNKS = [
    chunk("corpus/course/overview.md", ["О курсе", "Курс 1 «Нейросетевые технологии» (файл 000)"], "Курс 1 — очный курс."),
    chunk("corpus/course/overview.md", ["О курсе", "Курс 2 «Keras: 20 уроков» (файл 001)"], "Курс 2 — видеокурс."),
    chunk("corpus/course/overview.md", ["О курсе", "Аудитория"], "Курсы 1 и курс 2 рассчитаны на студентов."),
    chunk("corpus/course/homework.md", ["Домашние задания", "Домашнее задание 4. Детекция"], "Задание 4 курса 1 выдаётся 3 октября."),
    chunk("corpus/course/homework.md", ["Домашние задания", "Домашнее задание 4. Детекция", "Бонусы задания 4"], "Docker-образ."),
    chunk("shared/course/001_abc.txt", ["8. Аудио"], "librosa", title="## Neural-network"),
    chunk("corpus/lectures/04_cnn.md", ["Свёрточные сети"], "Свёртка скользит ядром."),
]


def test_catalogue_and_chunk_courses():
    cat = CourseCatalogue(CHUNKS)
    assert {n: c.name for n, c in cat.courses.items()} == {"1": "Нейросетевые технологии", "2": "Keras: 20 уроков"}
    courses = [cat.course_number(i) for i in range(len(CHUNKS))]
    # the audience section names two courses: no single label; the bonus sub-section inherits course 1;
    # the syllabus file 001 is course 2 by the catalogue; a lecture is general material
    assert courses == ["1", "2", "", "1", "1", "2", ""]
    assert cat.label("1") == "курс 1 «Нейросетевые технологии»"
    assert cat.label("2", "en") == "course 2 “Keras: 20 уроков”"
