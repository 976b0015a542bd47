"""tutor.agent.generation: sentences are checked before they are shown; a failed answer is
repaired or replaced. A scripted chat model stands in for the LLM so that each path is exercised
deterministically; the real embedded model runs in tests/evals/test_student_eval.py."""

import pytest

from tests.agent.conftest import scripted
from tutor.agent.generation import AnswerResult, _pop_sentence, answer_messages, excerpts, write_answer


@pytest.fixture(scope="module")
def hits(agent_index):
    return agent_index.search("Зачем нужен паддинг в свёрточной сети?", 3)


async def run(reply, hits, agent_index, lang="ru", mode="explain"):
    chat, _ = scripted(reply)
    reasons = []

    def fallback(reason):
        reasons.append(reason)
        return "ИЗВЛЕЧЕНО [1]"

    shown, result = [], None
    async for item in write_answer("Зачем нужен паддинг?", hits, lang, chat, mode, embedder=agent_index.embedder,
                                   normalizer=agent_index.normalizer, fallback=fallback):
        if isinstance(item, AnswerResult):
            result = item
        else:
            shown.append(item)
    return "".join(shown), result, reasons, chat


def test_sentence_boundaries():
    assert _pop_sentence("Шаг 0.5 хорош") == (None, "Шаг 0.5 хорош")
    assert _pop_sentence("Размер сохраняется. [1] Далее") == ("Размер сохраняется. [1]", " Далее")
    assert _pop_sentence("1. пункт один\n2.") == ("1. пункт один", "2.")
    assert _pop_sentence("```python\nx = 1\n") == (None, "```python\nx = 1\n")


async def test_supported_answer_streams_whole(hits, agent_index):
    shown, res, reasons, chat = await run("Паддинг добавляет нули по краям, чтобы размер карты признаков не "
                                          "уменьшался после свёртки [1]. Хотите пример?", hits, agent_index)
    assert res.style == "generative" and not res.dropped and not reasons
    assert shown == res.text and res.text.startswith("Паддинг добавляет нули") and res.text.endswith("пример?")
    prompt = chat.seen[0][-1].content
    assert "[1]" in prompt and "Вопрос студента: Зачем нужен паддинг?" in prompt


async def test_unsupported_sentence_is_dropped(hits, agent_index):
    shown, res, _, _ = await run("Паддинг добавляет нули по краям, чтобы размер не уменьшался [1]. Паддинг придумал "
                                 "Ян Лекун в 1979 году [1].", hits, agent_index)
    assert "1979" not in shown and shown == res.text and len(res.dropped) == 1 and "1979" in res.dropped[0].reason


async def test_nothing_supported_is_replaced_before_anything_is_shown(hits, agent_index):
    shown, res, reasons, _ = await run("Отличный вопрос! Паддинг в 1979 году ускорил обучение в 40 раз [1].", hits,
                                       agent_index)
    assert res.style == "extractive" and shown == "ИЗВЛЕЧЕНО [1]" and "Отличный" not in shown and reasons


async def test_wrong_language_and_refusal_are_replaced(hits, agent_index):
    _, res, reasons, _ = await run("Padding adds zeros around the border so that the feature map keeps its size [1].",
                                   hits, agent_index)
    assert res.style == "extractive" and "not in ru" in reasons[0]
    _, res, reasons, _ = await run("В материалах курса нет информации о паддинге.", hits, agent_index)
    assert res.style == "extractive" and "do not cover" in reasons[0]


async def test_hint_mode_removes_code(hits, agent_index):
    shown, res, _, _ = await run("Подумайте, что делает паддинг с размером карты признаков [1]? ```python\nx = F.pad(x, 1)\n```",
                                 hits, agent_index, mode="hint")
    assert "F.pad" not in shown and "?" in shown


def test_prompt_parts(hits, agent_index):
    ex = excerpts("Зачем нужен паддинг?", hits, "ru", agent_index.embedder)
    assert len(ex) == len(hits[:3]) and len(ex[0]) <= 420 and "нули" in ex[0]
    msgs = answer_messages("зачем?", hits, "ru", history=[("user", "что такое паддинг"), ("assistant", "Это нули [1].")],
                           follow_up=True, embedder=agent_index.embedder)
    assert [m.type for m in msgs] == ["system", "human", "ai", "human"] and "[1]" not in msgs[2].content
    assert "продолжение разговора" in msgs[-1].content


async def test_a_course_fact_names_its_course_once(hits, agent_index):
    """With several courses in the materials, a sentence citing a course's own page says which course."""
    from dataclasses import replace

    course_hits = [replace(h, course="курс 1 «Нейросетевые технологии»") for h in hits]
    shown, res, _, _ = await run("Паддинг добавляет нули по краям, чтобы размер карты признаков не уменьшался после "
                                 "свёртки [1]. Размер выхода считается по формуле (W - K + 2P)/S + 1 [1].",
                                 course_hits, agent_index)
    assert res.style == "generative" and shown == res.text
    assert res.text.startswith("Курс 1 «Нейросетевые технологии»: паддинг добавляет нули")
    assert res.text.count("Курс 1") == 1
    # general lecture material (no course) stays as written
    shown, res, _, _ = await run("Паддинг добавляет нули по краям, чтобы размер карты признаков не уменьшался после "
                                 "свёртки [1].", hits, agent_index)
    assert res.text.startswith("Паддинг добавляет нули")


async def test_scaffolding_is_never_shown(hits, agent_index):
    """What a 1.5B model writes around the answer: a pleasantry, the prompt's label with the question,
    a passage's heading as a sentence. None of it is shown, none of it gets a course label."""
    from dataclasses import replace

    from tutor.agent.generation import scaffolding

    homework = replace(hits[0], section="Домашние задания > Домашнее задание 7 (временные ряды)",
                       headings=["Домашние задания", "Домашнее задание 7 (временные ряды)"],
                       course="курс 1 «Нейросетевые технологии»")
    course_hits = [homework] + [replace(h, course="курс 1 «Нейросетевые технологии»") for h in hits[1:]]
    shown, res, _, _ = await run("Конечно, я помогу вам с этим. [1] Вопрос студента: зачем нужен паддинг? "
                                 "Домашнее задание 7 [1]. Паддинг добавляет нули по краям, чтобы размер карты "
                                 "признаков не уменьшался после свёртки [1].", course_hits, agent_index)
    assert "Конечно" not in shown and "Вопрос студента" not in shown and "задание 7" not in shown, shown
    assert res.text == shown and "паддинг добавляет нули" in shown.lower() and shown.count("Курс 1") == 1
    assert scaffolding("Sure, I can help you with that.", "why padding?", hits) == "a pleasantry"
    assert scaffolding("Зачем нужен паддинг?", "зачем нужен паддинг", hits) == "the question said back"
    assert scaffolding("Тьютор: паддинг добавляет нули [1].", "зачем паддинг", hits) == "a label of the prompt"
    assert scaffolding("Казалось бы, студенту нужно выполнить домашнее задание по генеративным состязательным сетям.",
                       "кагда дз по ганам?", hits, agent_index.normalizer) == "the question said back"
    # an answer is not scaffolding, however short or close to the question's words
    assert scaffolding("Паддинг сохраняет размер карты признаков [1].", "зачем нужен паддинг", hits) == ""
    assert scaffolding("Хотите пример?", "зачем нужен паддинг", hits) == ""
    assert scaffolding("Dropout — это регуляризация [1].", "что такое dropout",
                       [replace(hits[0], section="Dropout и регуляризация", headings=[])]) == ""


def test_lower_passages_are_excerpted_on_the_question_s_topic(agent_index):
    from index.search import Hit

    reg = Hit(text="Dropout с вероятностью p обнуляет активации при обучении; при оценке выключается.",
              source="corpus/lectures/20_opt.md", section="Регуляризация > Dropout", anchor="L1-1", score=1.0)
    cnn = Hit(text="Пакетная нормализация нормирует активации каждого канала по мини-батчу и обучает масштаб и сдвиг. "
                   "Она ускоряет обучение и допускает большие шаги обучения без расхождения. "
                   "Dropout случайно обнуляет долю активаций во время обучения и уменьшает переобучение.",
              source="corpus/lectures/04_cnn.md", section="CNN > Пакетная нормализация и Dropout", anchor="L2-2",
              score=0.9)
    ex = excerpts("а зачем дропаут?", [reg, cnn], "ru", agent_index.embedder, chars=(360, 400),
                  normalizer=agent_index.normalizer)
    assert "уменьшает переобучение" in ex[1] and "масштаб" not in ex[1] and "шаги" not in ex[1], ex[1]


async def test_a_looping_model_is_shown_each_sentence_once(hits, agent_index):
    s = "Паддинг добавляет нули по краям, чтобы размер карты признаков не уменьшался после свёртки [1]."
    shown, res, _, _ = await run(f"{s} Вот объяснение проще: {s} {s} {s}", hits, agent_index)
    assert shown.count("добавляет нули") == 1 and res.text == shown and res.style == "generative"


def test_a_pronoun_after_a_removed_sentence_names_the_asked_topic():
    from tutor.agent.generation import resolve_pronoun

    asked = {"дропаут", "dropout", "зачем"}
    assert resolve_pronoun("Он случайно обнуляет долю активаций [3].", "Дропаут используется для улучшения качества.",
                           asked) == "Дропаут случайно обнуляет долю активаций [3]."
    assert resolve_pronoun("Это помогает сети [1].", "Дропаут улучшает всё.", asked) == ""  # «это» is the removed claim
    assert resolve_pronoun("Он обнуляет активации [1].", "Казалось бы, всё просто.", asked) == ""


async def test_a_list_s_opening_is_shown_only_with_its_items(hits, agent_index):
    """«… по нескольким причинам [1]:» whose items are all removed is an opening with nothing after it,
    and «Вот ссылки на соответствующие фрагменты: [1] — [1]» is scaffolding (s061 showed both)."""
    from tutor.agent.generation import scaffolding

    intro = "Паддинг добавляет нули по краям карты признаков по нескольким причинам [1]:"
    shown, res, _, _ = await run(f"{intro}\n1. Паддинг придумал Ян Лекун в 1979 году [1].\n"
                                 "2. Паддинг ускоряет обучение в 40 раз [2].\n3. Паддинг изобрели в Китае [3].",
                                 hits, agent_index)
    assert "причинам" not in shown and res.style == "extractive", shown
    shown, res, _, _ = await run(f"{intro}\n1. Размер карты признаков не уменьшается после свёртки [1].",
                                 hits, agent_index)
    assert shown.startswith(intro) and "не уменьшается" in shown and res.style == "generative", shown
    assert scaffolding("Вот ссылки на соответствующие фрагменты: [1] — [1] [2] — [2] [3] — [3]",
                       "а чем она лучше лстм?", hits) == "a pleasantry"
    assert scaffolding("Here are the relevant passages: [1] [2].", "why padding?", hits) == "a pleasantry"


def test_a_term_spelled_in_two_scripts_is_spelled_in_latin(agent_index):
    from tutor.agent.generation import unmix_scripts

    assert unmix_scripts("ГRU (gated recurrent unit) — упрощённая ячейка [1].", agent_index.normalizer) == \
        "GRU (gated recurrent unit) — упрощённая ячейка [1]."
    assert unmix_scripts("Слово фыbar остаётся [1].", agent_index.normalizer) == "Слово фыbar остаётся [1]."
    assert unmix_scripts("ГRU", None) == "ГRU"


async def test_a_shorter_echo_of_a_shown_sentence_is_a_repeat(hits, agent_index):
    """s061: «[1] GRU — это упрощённая ячейка …» after the same sentence with «(gated recurrent unit)» in it."""
    long = "Паддинг (padding, дополнение нулями) добавляет нули по краям, чтобы размер карты признаков не уменьшался [1]."
    echo = "Паддинг добавляет нули по краям, чтобы размер карты признаков не уменьшался."
    shown, res, _, _ = await run(f"{long} {echo}", hits, agent_index)
    assert shown.count("добавляет нули") == 1 and res.text == shown, shown
    # a sentence that adds a term of its own is not an echo
    shown, res, _, _ = await run(f"{long} Размер выхода считается по формуле (W - K + 2P)/S + 1 [1].",
                                 hits, agent_index)
    assert "по формуле" in shown and not res.dropped, shown
