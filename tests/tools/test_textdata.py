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
