"""Pure functions of tutor.agent.answer on hand-made hits."""

from index.search import Hit
from tutor.agent.answer import make_sources, prefer_language, twin_source


def hit(source: str, anchor: str, text: str) -> Hit:
    return Hit(text=text, source=source, section="S", anchor=anchor, score=1.0)


RU = "Пулинг уменьшает разрешение карты признаков вдвое."
EN = "Pooling halves the resolution of the feature map."


def test_twin_source():
    assert twin_source("corpus/lectures/04_cnn.md") == "corpus/lectures_en/04_cnn.md"
    assert twin_source("corpus/lectures_en/04_cnn.md") == "corpus/lectures/04_cnn.md"
    assert twin_source("corpus/homework/01.md") == "corpus/homework/01.md"


def test_question_language_twin_takes_the_better_rank():
    hits = [hit("corpus/lectures_en/04_cnn.md", "L23-23", EN), hit("corpus/lectures/08_det.md", "L5-5", RU),
            hit("corpus/lectures/04_cnn.md", "L23-23", RU)]
    ru = prefer_language(hits, "ru")
    assert [h.source for h in ru] == ["corpus/lectures/04_cnn.md", "corpus/lectures/08_det.md",
                                      "corpus/lectures_en/04_cnn.md"]
    assert [s.source for s in make_sources(ru)][0] == "corpus/lectures/04_cnn.md"
    # an English question keeps the English passage first; the input list is not modified
    assert prefer_language(hits, "en") == hits
    assert hits[0].source == "corpus/lectures_en/04_cnn.md"


def test_different_sections_are_not_swapped():
    hits = [hit("corpus/lectures_en/04_cnn.md", "L23-23", EN), hit("corpus/lectures/04_cnn.md", "L40-41", RU)]
    assert prefer_language(hits, "ru") == hits
