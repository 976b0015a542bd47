from index.bm25 import BM25, tokenize


def test_cyrillic_tokenization_and_stemming():
    toks = tokenize("Свёрточные нейронные сети и свёрточной сети, Ёлка!")
    assert "и" not in toks  # stop word
    assert tokenize("свёрточные")[0] == tokenize("сверточной")[0]  # ё folded, same stem
    assert tokenize("сети")[0] == tokenize("сеть")[0]
    assert all(t == t.lower() for t in toks)


def test_english_and_hyphenated():
    assert tokenize("networks")[0] == tokenize("network")[0]
    toks = tokenize("mini-batch gradient")
    assert tokenize("batch")[0] in toks


def test_bm25_ranking_on_russian_corpus():
    docs = [
        "Свёрточная нейронная сеть применяет фильтры к изображению.",
        "Рекуррентные сети LSTM обрабатывают последовательности.",
        "Обучение с подкреплением: агент получает награду от среды.",
        "Пулинг уменьшает размер карты признаков свёрточной сети.",
    ]
    bm = BM25.build(docs)
    top = bm.top("свёрточные сети", 4)
    assert {top[0][0], top[1][0]} == {0, 3}
    assert bm.top("награда агента", 1)[0][0] == 2
    assert bm.top("квантовая хромодинамика", 3) == []


def test_bm25_save_load_roundtrip(tmp_path):
    bm = BM25.build(["градиентный спуск", "стохастический градиентный спуск с моментом"])
    bm.save(tmp_path)
    bm2 = BM25.load(tmp_path)
    assert bm2.top("моментом", 1) == bm.top("моментом", 1)
