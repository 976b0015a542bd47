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


class FakeSections:
    """Stands in for HybridIndex.section_text/hit_at: the whole section of a homework item and a twin."""

    def __init__(self, sections=None, twins=None):
        self.sections, self.twins = sections or {}, twins or {}

    def section_text(self, source, section):
        return self.sections.get((source, section), "")

    def hit_at(self, source, anchor):
        return self.twins.get((source, anchor))


HW = Hit(text="Задание 2 курса 1 выдаётся на занятии 2.", source="corpus/course/homework.md",
         section="Домашние задания > Домашнее задание 2. CNN на MNIST", anchor="L26-28", score=1.0,
         headings=["Домашние задания", "Домашнее задание 2. CNN на MNIST"], course="курс 1 «Нейросетевые технологии»")


def test_hint_names_the_homework_item_and_asks_about_its_requirements():
    from tutor.agent.answer import hint_answer

    whole = HW.text + "\n- **исследовать данные**;\n- подобрать гиперпараметры моделей: число эпох, шаг обучения;"
    text = hint_answer("как сделать дз2, дай код", [HW], "ru", index=FakeSections({(HW.source, HW.section): whole}))
    assert "«Домашнее задание 2. CNN на MNIST» (курс 1 «Нейросетевые технологии») [1]" in text
    assert "«исследовать данные»" in text and "«подобрать гиперпараметры моделей»" in text
    assert "?" in text and "```" not in text


def test_extractive_answer_names_the_course_of_a_course_page():
    from tutor.agent.answer import extractive_answer

    hit_ = Hit(text="Занятие 7 проходит 10 октября и целиком посвящено сегментации изображений, виды сегментации и U-Net.",
               source="corpus/course/schedule.md", section="Расписание > Занятие 7", anchor="L30-31", score=1.0,
               headings=["Расписание", "Занятие 7"], course="курс 1 «Нейросетевые технологии»")
    assert "Курс 1 «Нейросетевые технологии»: " in extractive_answer("когда занятие про сегментацию", [hit_], "ru")
    assert "Course 1 “Нейросетевые технологии”: " in extractive_answer("when is segmentation", [hit_], "en")


def test_a_lecture_found_only_in_the_other_language_is_replaced_by_its_twin():
    twin = hit("corpus/lectures/04_cnn.md", "L23-23", RU)
    hits = [hit("corpus/lectures_en/04_cnn.md", "L23-23", EN)]
    out = prefer_language(hits, "ru", FakeSections(twins={("corpus/lectures/04_cnn.md", "L23-23"): twin}))
    assert out[0].source == "corpus/lectures/04_cnn.md" and out[0].score == hits[0].score


def lecture_hit(text: str, source: str, section: str) -> Hit:
    """A passage of a lecture section, with its heading path, as the index returns it."""
    return Hit(text=text, source=source, section=section, anchor="L1-4", score=1.0, headings=section.split(" > "))


def test_a_follow_up_is_not_answered_with_the_quotes_it_follows():
    from tutor.agent.answer import extractive_answer

    passage = lecture_hit("Dropout обнуляет случайную долю активаций во время обучения и уменьшает переобучение. "
                       "Сеть не может полагаться на отдельные нейроны, поэтому учит более общие признаки. "
                       "Например, при p = 0.5 в каждом шаге выключается половина нейронов слоя. "
                       "В режиме eval() dropout отключается, и работают все нейроны.",
        "corpus/lectures/20_opt.md", "Регуляризация > Dropout")
    first = extractive_answer("зачем нужен dropout", [passage], "ru", max_sentences=2)
    again = extractive_answer("зачем нужен dropout", [passage], "ru", max_sentences=2, said=first,
                              request="объясни проще")
    assert again != first and "p = 0.5" not in first
    example = extractive_answer("зачем нужен dropout", [passage], "ru", max_sentences=1, said=first,
                                request="приведи пример")
    assert "p = 0.5" in example  # «приведи пример» asks for the sentence that gives one


def test_why_is_answered_with_the_purpose_not_the_definition():
    """«а зачем?» after «что такое дропаут» (rewritten «дропаут а зачем»): the sentence that says what
    dropout is for comes before the one that says what it does."""
    from tutor.agent.answer import extractive_answer

    passage = lecture_hit("Dropout с вероятностью p обнуляет активации нейронов слоя на каждом шаге обучения сети, каждый раз "
                       "выбирая новое случайное подмножество нейронов. "
                       "В режиме eval() он выключается и пропускает все активации слоя без изменений, и на тесте "
                       "предсказание детерминировано. "
                       "Dropout нужен, чтобы сеть не переобучалась: она не может полагаться на отдельные нейроны и учит "
                       "более общие признаки.",
        "corpus/lectures/20_opt.md", "Регуляризация > Dropout")
    what = extractive_answer("что такое dropout", [passage], "ru", max_sentences=1)
    why = extractive_answer("dropout а зачем", [passage], "ru", max_sentences=1, request="а зачем?")
    assert "обнуляет" in what and "переобучалась" not in what  # the definition comes first in the passage
    assert "переобучалась" in why and "обнуляет" not in why
    en = lecture_hit("Dropout zeroes each activation with probability p at every training step of the network, each time "
                  "drawing a new random subset of neurons. "
                  "In eval mode it is switched off and every activation passes through unchanged, and the prediction "
                  "on the test set is deterministic. "
                  "Dropout is used because the network then cannot rely on single neurons, so it overfits less and "
                  "learns more general features.",
        "corpus/lectures_en/20_opt.md", "Regularization > Dropout")
    why_en = extractive_answer("dropout why?", [en], "en", max_sentences=1, request="why?")
    assert "overfits less" in why_en and "zeroes" not in why_en
    # «почему» asks for a cause: the remedy («помогает обрезка …») does not answer it
    nan = lecture_hit("Обрезка градиента помогает при взрыве градиентов: clip_grad_norm_ ограничивает норму градиента "
                   "перед каждым шагом оптимизатора. "
                   "Потеря становится NaN, если шаг обучения слишком велик: градиенты взрываются, и веса "
                   "переполняются за несколько шагов.",
        "corpus/lectures/11_rnn.md", "RNN > Градиенты")
    cause = extractive_answer("почему лосс nan", [nan], "ru", max_sentences=1)
    assert "взрываются" in cause and "clip_grad_norm_" not in cause


def test_a_course_s_searcher_reads_student_wording(agent_index):
    """Every default install answers in a course (CourseSearch), and generation and the grounding
    check read «дропаут» as dropout only through the searcher's normalizer."""
    from tutor.courses.search import CourseSearch

    n = CourseSearch("demo", agent_index).normalizer
    assert n is agent_index.normalizer and "dropout" in n.normalize("а зачем дропаут?").text.lower()


def test_the_next_sentence_is_quoted_only_while_it_stays_on_the_subject():
    from tutor.agent.answer import changes_subject

    assert changes_subject("Dropout обнуляет активации при обучении; при оценке выключается.",
                           "BatchNorm нормирует по батчу, LayerNorm — по признакам одного объекта.", {"дропаут"})
    assert not changes_subject("Домашнее задание 3 выдаётся на занятии 3.", "Нужно обучить ResNet на AFHQ.",
                               {"домашн", "задан", "3"})  # the detail of the homework
    assert not changes_subject("Dropout zeroes activations during training.", "It is switched off in eval().",
                               {"dropout"})
