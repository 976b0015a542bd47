"""index.priors: query-type priors for the first hit."""

from index.priors import heading_items, numbered_items, prior


def test_numbered_items():
    assert numbered_items("урок 8 в курсе на керасе") == {("lesson", "8")}
    assert numbered_items("дз 3 домашнее задание") >= {("homework", "3")}
    assert numbered_items("на третьем занятии") == {("lesson", "3")}
    assert numbered_items("лекция №9") == {("lecture", "9")}
    assert heading_items(["8. Прямые и свёрточные сети"]) == {("lesson", "8")}


def test_priors_prefer_the_right_kind_of_passage():
    q = "когда дз 3"
    items = numbered_items(q)
    course_page, lecture = prior(q, items, set(), "1", {("homework", "3")}), prior(q, items, set(), "", set())
    other_item = prior(q, items, set(), "1", {("homework", "4")})
    assert course_page > other_item > lecture - 0.02 and course_page > lecture
    concept = "что такое dropout"
    assert prior(concept, set(), set(), "", set()) > prior(concept, set(), set(), "1", set())
    named = "сколько уроков в курсе 2"
    assert prior(named, set(), {"2"}, "2", set()) > prior(named, set(), {"2"}, "1", set())
