from pathlib import Path

import pytest

from index.loaders import LoadError, UnsupportedFile, load_file
from tests.index.fixtures import write_notebook, write_pdf


def test_markdown_heading_paths_and_line_anchors(tmp_path):
    p = tmp_path / "cnn.md"
    p.write_text(
        "# Свёрточные сети\n\nВведение в свёртку.\n\n## Паддинг\n\nПаддинг (padding) сохраняет размер.\n\n"
        "```python\n# not a heading\nx = 1\n```\n\n### Формула\n\nW' = (W - K + 2P)/S + 1\n\n## Пулинг\n\nMaxPool.\n",
        encoding="utf-8",
    )
    doc = load_file(p)
    assert doc.title == "Свёрточные сети"
    by_text = {b.text.splitlines()[0]: b for b in doc.blocks}
    assert by_text["Введение в свёртку."].headings == ("Свёрточные сети",)
    assert by_text["Паддинг (padding) сохраняет размер."].headings == ("Свёрточные сети", "Паддинг")
    assert by_text["```python"].headings == ("Свёрточные сети", "Паддинг")  # fence kept whole
    assert "# not a heading" in by_text["```python"].text
    assert by_text["W' = (W - K + 2P)/S + 1"].headings == ("Свёрточные сети", "Паддинг", "Формула")
    assert by_text["MaxPool."].headings == ("Свёрточные сети", "Пулинг")
    assert by_text["MaxPool."].anchor == "L20-20"


def test_numeric_heading_completed_by_bold_title(tmp_path):
    p = tmp_path / "keras.md"
    p.write_text("# 3\n\n**Свёрточные нейронные сети**\n\nСвёртка и пулинг.\n", encoding="utf-8")
    (block,) = load_file(p).blocks
    assert block.headings == ("3. Свёрточные нейронные сети",)


def test_plain_text_title_after_description(tmp_path):
    """The layout of ../shared/course/003_*.txt: each description comes BEFORE its title."""
    p = tmp_path / "syllabus.txt"
    p.write_text(
        "Нейронные сети в науке\nПрограмма курса:\n\n"
        "Обзор курса. Задачи машинного обучения. План исследования и разведочный анализ данных, метрики.\n"
        "Лекция №1.\nВведение\n"
        "Линейная регрессия. Функция потерь. Метод наименьших квадратов и градиентный спуск на практике.\n"
        "Лекция №2.\nЛинейные модели\n",
        encoding="utf-8",
    )
    doc = load_file(p)
    sections = {b.headings[-1]: b.text for b in doc.blocks if len(b.headings) > 1}
    assert sections["Лекция №1. Введение"].startswith("Обзор курса")
    assert sections["Лекция №2. Линейные модели"].startswith("Линейная регрессия")


def test_plain_text_title_before_content(tmp_path):
    p = tmp_path / "plan.txt"
    p.write_text("План\n\nЛекция 1.\nСвёртки\n\nСвёртка, паддинг, шаг.\n\nЛекция 2.\nRNN\n\nLSTM и GRU.\n", encoding="utf-8")
    sections = {b.headings[-1]: b.text for b in load_file(p).blocks if len(b.headings) > 1}
    assert sections == {"Лекция 1. Свёртки": "Свёртка, паддинг, шаг.", "Лекция 2. RNN": "LSTM и GRU."}


def test_real_syllabus_003_sections():
    path = Path(__file__).resolve().parents[3] / "shared" / "course"
    files = sorted(path.glob("003_*.txt"))
    if not files:
        pytest.skip("../shared/course not present")
    blocks = load_file(files[0]).blocks
    rl = [b for b in blocks if b.headings[-1] == "Лекция №15. Обучение с подкреплением"]
    assert rl and rl[0].text.startswith("Reinforcement learning")
    cnn = [b for b in blocks if b.headings[-1] == "Лекция №6. Свёрточные нейронные сети"]
    assert cnn and "сверточные" in cnn[0].text.lower()


def test_pdf_pages(tmp_path):
    p = write_pdf(tmp_path / "notes.pdf", ["Gradient descent\n\nThe learning rate sets the step size.", "Dropout page"], title="DL notes")
    doc = load_file(p)
    assert doc.title == "DL notes"
    assert [b.anchor for b in doc.blocks] == ["p1", "p2"]
    assert "learning rate" in doc.blocks[0].text and doc.blocks[1].page == 2


def test_notebook_cells(tmp_path):
    p = write_notebook(tmp_path / "hw.ipynb", [("md", "# ДЗ 2\n\n## Данные\n\nЗагрузите MNIST."), ("code", "import torch\nx = torch.zeros(3)"), ("md", "## Модель\n\nСвёрточная сеть.")])
    doc = load_file(p)
    assert doc.title == "ДЗ 2"
    code = next(b for b in doc.blocks if "import torch" in b.text)
    assert code.anchor == "cell 1" and code.headings == ("ДЗ 2", "Данные")
    model = next(b for b in doc.blocks if "Свёрточная" in b.text)
    assert model.anchor == "cell 2" and model.headings[-1] == "Модель"


def test_html(tmp_path):
    p = tmp_path / "page.html"
    p.write_text("<html><head><title>Курс</title><script>var x=1;</script></head><body><h1>Детекция</h1>"
                 "<p id='nms'>NMS убирает дубликаты рамок.</p><h2>mAP</h2><ul><li>AP по классам</li></ul></body></html>",
                 encoding="utf-8")
    doc = load_file(p)
    assert doc.title == "Курс"
    texts = {b.text: b for b in doc.blocks}
    assert texts["NMS убирает дубликаты рамок."].anchor == "#nms"
    assert texts["AP по классам"].headings == ("Детекция", "mAP")
    assert not any("var x" in b.text for b in doc.blocks)


@pytest.mark.parametrize(
    "name,content,error",
    [
        ("empty.md", b"", "empty file"),
        ("blank.txt", b"   \n\n  ", "no text"),
        ("broken.pdf", b"%PDF-1.4 garbage that is not a pdf", "PDF"),
        ("broken.ipynb", b"{not json", "notebook"),
        ("binary.md", b"\x00\x01\x02binary", "binary"),
    ],
)
def test_bad_files_raise_clear_errors(tmp_path, name, content, error):
    p = tmp_path / name
    p.write_bytes(content)
    with pytest.raises(LoadError, match=error):
        load_file(p)


def test_unsupported_type(tmp_path):
    p = tmp_path / "img.png"
    p.write_bytes(b"\x89PNG")
    with pytest.raises(UnsupportedFile, match="unsupported"):
        load_file(p)


def test_cp1251_text_is_decoded(tmp_path):
    p = tmp_path / "old.txt"
    p.write_bytes("Градиентный спуск".encode("cp1251"))
    assert load_file(p).blocks[0].text == "Градиентный спуск"
