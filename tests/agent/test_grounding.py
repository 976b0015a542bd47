"""tutor.agent.grounding: each claim of an answer must be backed by the passage it cites."""

from dataclasses import replace

import pytest

from index.search import Hit
from tutor.agent.grounding import (Grounder, check_answer, citations, flips, language_ok, numbers_in,
                                   split_sentences)

DROPOUT = Hit(text="Dropout с вероятностью p обнуляет активации при обучении, заставляя сеть не полагаться на отдельные "
                   "нейроны; при оценке выключается. BatchNorm нормирует по батчу (хорош для CNN, зависит от размера "
                   "батча), LayerNorm — по признакам одного объекта.",
              source="corpus/lectures/20_opt.md", section="Оптимизация > Dropout и нормализация", anchor="L11-11",
              score=1.0, headings=["Оптимизация", "Dropout и нормализация"])
CONV = Hit(text="Размер выхода по каждой оси: W_out = (W − K + 2P) / S + 1. Примеры: вход 28, ядро 5, P = 0, S = 1 → 24. "
                "Слой nn.Conv2d(3, 64, 3) содержит 1 792 параметра.",
           source="corpus/lectures/04_cnn.md", section="CNN > Формула", anchor="L15-15", score=0.9,
           headings=["CNN", "Формула"])


@pytest.fixture(scope="module")
def grounder(agent_index):
    return Grounder([DROPOUT, CONV], "ru", agent_index.embedder, agent_index.normalizer)


def test_numbers_sentences_and_citations():
    assert numbers_in("1 792 параметра, шаг 0,5 и [3]") == {"1792", "0.5"}
    assert split_sentences("Первое [1]. Второе. [2] Третье?\n- пункт") == ["Первое [1].", "Второе. [2]", "Третье?",
                                                                           "- пункт"]
    assert citations("факт [1, 3] и [2]") == [1, 3, 2]


def test_a_paraphrase_is_supported_and_a_reversal_is_not(grounder):
    ok = grounder.check("Dropout зануляет часть активаций во время обучения, а при оценке отключается [1].")
    assert ok.claim and ok.supported, ok.reason
    bad = grounder.check("При оценке dropout включается и обнуляет активации [1].")
    assert not bad.supported and "включ" in bad.reason


def test_a_changed_number_is_caught(grounder):
    c = grounder.check("Для входа 28 с ядром 5 без паддинга выход будет 26 [2].")
    assert not c.supported and "26" in c.reason


def test_citations_are_repaired(grounder):
    c = grounder.check("Слой nn.Conv2d(3, 64, 3) содержит 1 792 параметра [7].")  # no passage 7
    assert c.dropped_citations == [7] and c.supported and c.text.endswith("[2].")  # the passage that backs it
    q = grounder.check("Хотите пример?")
    assert not q.claim and q.supported


def test_a_claim_citing_the_wrong_passage_gets_the_right_one(grounder):
    c = grounder.check("Слой nn.Conv2d(3, 64, 3) содержит 1 792 параметра [1].")  # [1] is the dropout passage
    assert c.supported and c.cited == [2] and c.text.endswith("[2].")
    wrong = grounder.check("Слой nn.Conv2d(3, 64, 3) содержит 2 000 параметров [1].")  # no passage backs it
    assert not wrong.supported


def test_directions_and_denials():
    assert flips("аугментация снижает обобщающую способность", "аугментация повышает обобщающую способность")
    assert not flips("декодер смотрит на все состояния, а не только на последнее",
                     "декодировщик смотрит на все состояния кодировщика, а не только на последнее")
    assert flips("в U-Net нет декодировщика", "U-Net — кодировщик-декодировщик")
    assert flips("данные нужно перемешать", "перемешивать данные перед разбиением нельзя")
    # a direction word speaks of its own side of «и»: overfitting is prevented, quality improved
    assert not flips("dropout нужен для предотвращения переобучения и улучшения качества",
                     "dropout обнуляет активации и уменьшает переобучение")
    assert flips("dropout увеличивает переобучение", "dropout обнуляет активации и уменьшает переобучение")


def test_word_forms_the_stemmer_splits_still_match(agent_index):
    # «уменьшить» / «уменьшает» stem differently; «метод» says nothing about the topic
    passage = replace(DROPOUT, text="Dropout случайно обнуляет долю активаций во время обучения и уменьшает "
                                    "переобучение; в режиме eval() он отключается.")
    g = Grounder([passage], "ru", agent_index.embedder, agent_index.normalizer)
    c = g.check("Дропаут — это метод, который помогает уменьшить переобучение модели.")
    assert c.supported and c.cited == [1], c.reason


def test_check_answer_removes_unsupported_sentences(agent_index):
    v = check_answer("Dropout обнуляет активации при обучении [1]. Dropout придумали в 1986 году [1].", [DROPOUT], "ru",
                     agent_index.embedder)
    assert v.ok and "1986" not in v.text and len(v.unsupported) == 1
    wrong_lang = check_answer("Dropout zeroes activations during training and is switched off at evaluation [1].",
                              [DROPOUT], "ru", agent_index.embedder)
    assert not wrong_lang.ok and not wrong_lang.language_ok


def test_language_ok():
    assert language_ok("Внимание считается как softmax(QKᵀ/√d)V [1], это взвешенная сумма значений.", "ru")
    assert not language_ok("Attention is a weighted sum of the values computed with softmax [1].", "ru")


def test_latex_is_compared_as_the_course_writes_formulas(grounder):
    from tutor.agent.grounding import plain_math

    assert plain_math(r"$\text{softmax}(QK^T/\sqrt{d_k})V$") == "softmax(QKᵀ/√d_k)V"
    assert plain_math(r"$z = \mu + \sigma \odot \epsilon$") == "z = μ + σ ⊙ ε"
    c = grounder.check(r"Размер выхода считают по формуле $W_{out} = \frac{W - K + 2P}{S} + 1$ [2].")
    assert c.supported, c.reason
