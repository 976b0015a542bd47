"""index.wording: student wording read as the materials' words."""

from index.wording import Normalizer, Vocabulary, edit_distance, translit

TEXTS = [
    "Dropout с вероятностью p обнуляет активации при обучении; при оценке выключается.",
    "BatchNorm нормирует по батчу, LayerNorm — по признакам одного объекта.",
    "Градиентный спуск обновляет параметры. Когда потеря становится NaN, помогает gradient clipping.",
    "Чем LSTM отличается от GRU: у GRU нет отдельного состояния ячейки. Keras и PyTorch.",
    "Домашнее задание 3. Классификация изображений (AFHQ).",
]
HEADINGS = ["Dropout и нормализация", "Градиентный спуск", "Домашнее задание 3"]


def normalizer():
    return Normalizer(Vocabulary(TEXTS, HEADINGS))


def test_edit_distance_and_translit():
    assert edit_distance("кагда", "когда") == 1
    assert edit_distance("отличаеться", "отличается") == 1
    assert edit_distance("ab", "ba") == 1  # a transposition is one edit
    assert edit_distance("погода", "порога") == 2
    assert translit("дропаут") == "dropaut" and translit("керас") == "keras"


def test_slang_abbreviations_and_digits():
    n = normalizer().normalize("кагда дз3?")
    assert "домашнее задание" in n.text and "когда" in n.text and " 3" in n.text
    assert n.course_words == ["дз"]  # «когда» is a question word, not a topic


def test_transliteration_and_typos_reach_the_vocabulary():
    n = normalizer()
    assert "dropout" in n.normalize("что такое дропаут").text.lower()
    assert "градиентный" in n.normalize("грдиентный спуск").text  # one edit away
    out = n.normalize("чем отличаеться лстм от гру")
    assert {"отличаеться", "лстм", "гру"} <= set(out.fixes) and "LSTM" in out.text and "GRU" in out.text


def test_words_the_materials_know_are_kept_and_nothing_is_replaced():
    n = normalizer().normalize("Что делает BatchNorm?")
    assert n.text.startswith("Что делает BatchNorm?") and n.course_words == ["batchnorm"]
    assert normalizer().normalize("какая погода в москве").course_words == []


def test_without_a_vocabulary_only_the_glossary_applies():
    n = Normalizer(None).normalize("лосс нан у ганов")
    assert "NaN" in n.text and "GAN" in n.text and "loss" in n.text


def test_slang_is_read_as_the_materials_mostly_write_it():
    # «ганы» occurs once in Russian prose, GAN in the rest: the reading is what finds the rest
    texts = TEXTS + ["Домашнее задание курса 2: генерация самолётов GAN.", "GAN: генератор и дискриминатор.",
                     "Студенты называют их ганы."]
    n = Normalizer(Vocabulary(texts, HEADINGS)).normalize("кагда дз по ганам?")
    assert "GAN" in n.text and "ганам" in n.course_words
    # a word the materials write as the student does gets nothing added
    assert Normalizer(Vocabulary(texts, HEADINGS)).normalize("что делает батч").added == []
