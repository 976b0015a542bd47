from tools.textdata import Vocab, load_text_dataset, passages, tokenize, topic_of


def test_splits_are_deterministic_and_leak_free():
    a, b = load_text_dataset(seed=0), load_text_dataset(seed=0)
    assert a.train == b.train and a.test == b.test
    train = {t for t, _ in a.train}
    assert not train & {t for t, _ in a.test} and not train & {t for t, _ in a.val}
    assert set(a.classes) == {"basics", "cv", "nlp", "generative", "rl"}
    assert {y for _, y in a.test} == set(range(len(a.classes)))  # every topic is tested


def test_topics_and_tokenizer():
    assert topic_of("04_cnn.md") == "cv" and topic_of("17_rl_dqn.md") == "rl" and topic_of("14_transformers.md") == "nlp"
    assert tokenize("Свёрточные сети и свёрточной сетью") == tokenize("сверточные сеть сверточной сети")
    assert tokenize("Ёлка", stem=False) == ["елка"]
    v = Vocab(["свёрточная сеть", "рекуррентная сеть"])
    ids = v.encode("свёрточная сеть неизвестное", 5)
    assert len(ids) == 5 and ids[2] == 1 and ids[3:] == [0, 0]  # unknown -> <unk>, then padding


def test_passages_windows():
    text = " ".join(str(i) for i in range(100))
    ps = passages(text, 20, 20)
    assert len(ps) == 5 and all(len(p.split()) == 20 for p in ps)


def test_english_course_passages():
    d = load_text_dataset("course_en", words=45, seed=0)
    assert set(d.classes) == {"basics", "cv", "nlp", "generative", "rl"}
    assert len(d.train) > 200 and {y for _, y in d.test} == set(range(5))
    assert not {t for t, _ in d.train} & {t for t, _ in d.test}
    assert all(len(t.split()) <= 45 for t, _ in d.train)
    # English text: nearly no Cyrillic letters (a few Russian examples are glossed in the notes)
    text = " ".join(t for t, _ in d.train)
    assert sum("а" <= c <= "я" for c in text.lower()) < 0.02 * len(text)


def test_unknown_or_missing_dataset_is_a_clear_error(tmp_path):
    import pytest

    from tools.common import MissingDataError

    with pytest.raises(MissingDataError, match="course_en"):
        load_text_dataset("folder")
