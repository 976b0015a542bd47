import random

from index.chunking import chunk_document
from index.loaders import Block, LoadedDoc


def _doc(sections: dict[str, list[str]]) -> LoadedDoc:
    blocks, line = [], 1
    for heading, paras in sections.items():
        for p in paras:
            blocks.append(Block(p, ("Doc", heading), f"L{line}-{line}", line, line))
            line += 2
    return LoadedDoc(path=None, title="Doc", blocks=blocks)


def _words(n: int, seed: int) -> str:
    rnd = random.Random(seed)
    vocab = "свёртка фильтр канал шаг паддинг пулинг слой признак сеть градиент вес смещение".split()
    return " ".join(rnd.choice(vocab) for _ in range(n)) + "."


def test_chunks_respect_sections_bounds_and_cover_all_text():
    sections = {f"Раздел {i}": [_words(random.Random(i).randint(5, 200), i * 10 + j) for j in range(6)] for i in range(5)}
    doc = _doc(sections)
    size, overlap = 400, 80
    chunks = chunk_document(doc, "x.md", size=size, overlap=overlap, min_size=50)
    assert chunks
    for c in chunks:
        assert c.text.strip()
        assert len(c.text) <= size + overlap
        assert c.headings[0] == "Doc" and c.headings[1].startswith("Раздел")  # heading path carried
        assert c.anchor.startswith("L")
    # every paragraph's words appear in a chunk of its own section (nothing lost, no crossing)
    for heading, paras in sections.items():
        body = " ".join(c.text for c in chunks if c.headings[1] == heading)
        for p in paras:
            for w in p.split()[:3]:
                assert w in body
    assert len({c.id for c in chunks}) == len(chunks)


def test_long_paragraph_split_at_sentences_with_overlap():
    sentences = [f"Предложение номер {i} про свёртку и фильтры." for i in range(60)]
    doc = _doc({"Длинный": [" ".join(sentences)]})
    chunks = chunk_document(doc, "x.md", size=300, overlap=60, min_size=50)
    assert len(chunks) > 5
    for a, b in zip(chunks, chunks[1:]):
        tail_words = a.text.split()[-3:]
        assert " ".join(tail_words) in b.text  # overlap carries the previous tail
    # pieces cut at sentence ends
    assert all(c.text.rstrip().endswith(".") for c in chunks)


def test_tiny_tail_merges_into_previous_chunk_of_same_section():
    doc = _doc({"A": [_words(60, 1), _words(60, 2), "Коротко."], "B": ["Отдельный раздел."]})
    chunks = chunk_document(doc, "x.md", size=500, overlap=0, min_size=40)
    a_chunks = [c for c in chunks if c.headings[1] == "A"]
    assert any("Коротко." in c.text for c in a_chunks)
    assert all("Коротко." != c.text for c in chunks)
    # a short section of its own stays its own chunk (never merged across headings)
    assert [c.text for c in chunks if c.headings[1] == "B"] == ["Отдельный раздел."]


def test_embed_text_includes_section_title():
    doc = _doc({"Бонусы": ["+2 балла за веб-приложение."]})
    (c,) = chunk_document(doc, "hw.md")
    assert c.section == "Doc > Бонусы"
    assert c.embed_text().startswith("Doc > Бонусы\n")
