"""Every online dataset and model loader without a network: a MissingDataError that names the
dataset, says it needs the internet and what works offline — no traceback text, no server
path, and no partial files left in the download folder."""

from __future__ import annotations

import os
import socket

import pytest

from tools.common import MissingDataError


@pytest.fixture
def no_network(monkeypatch):
    """No name resolution and no connections (a CI runner may be online; these tests mean offline)."""
    def refuse(*args, **kwargs):
        raise OSError("network disabled in this test")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", lambda self, *a: refuse())
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")


def downloads():
    from tools.online import downloads_dir

    root = downloads_dir()
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


CASES = [  # tool, config, what the message names, an offline alternative it offers
    ("cnn", {"dataset": "oxford_pets"}, "Oxford-IIIT Pet", "dataset=mnist5k"),
    ("cnn", {"dataset": "cifar10"}, "CIFAR-10", "dataset=mnist5k"),
    ("detection", {"dataset": "penn_fudan", "model": "fasterrcnn"}, "Penn-Fudan", "dataset=canvases"),
    ("detection", {"dataset": "voc", "model": "fasterrcnn"}, "PASCAL VOC 2012", "dataset=canvases"),
    ("segmentation", {"dataset": "oxford_pets"}, "Oxford-IIIT Pet", "dataset=canvases"),
    ("segmentation", {"dataset": "penn_fudan"}, "Penn-Fudan", "dataset=canvases"),
    ("segmentation", {"dataset": "voc"}, "PASCAL VOC 2012", "dataset=canvases"),
    ("rnn", {"dataset": "imdb"}, "IMDB", "dataset=course"),
    ("rnn", {"dataset": "ag_news"}, "AG News", "dataset=course"),
    ("rnn", {"dataset": "ru_sentiment"}, "RuSentiTweet", "dataset=course"),
    ("transformer", {"dataset": "imdb"}, "IMDB", "model_id=minilm"),
    ("transformer", {"model_id": "gpt2"}, "openai-community/gpt2", "model_id=minilm"),
    ("transformer", {"model_id": "distilgpt2", "pretrained": False}, "distilbert/distilgpt2", "model_id=minilm"),
    ("transformer", {"model_id": "rubert"}, "DeepPavlov/rubert-base-cased", "model_id=minilm"),
    ("transformer", {"model_id": "bert-base"}, "google-bert/bert-base-uncased", "model_id=minilm"),
    ("detection", {"model": "fasterrcnn_coco", "epochs": 1, "n_train": 32, "n_test": 16}, "fasterrcnn_coco",
     "model=fasterrcnn"),
]


@pytest.mark.parametrize("tool, config, names, alternative", CASES, ids=[f"{c[0]}-{c[2]}" for c in CASES])
def test_online_loader_offline_error(no_network, tmp_path, tool, config, names, alternative):
    from tools.registry import get_tool

    entry = get_tool(tool)
    cfg = entry.make_config("smoke" if tool != "transformer" else "quick", {**config, "device": "cpu"})
    before = downloads()
    with pytest.raises(MissingDataError) as e:
        entry.run(cfg, out_dir=tmp_path / "run")
    msg = str(e.value)
    assert names in msg and alternative in msg, msg
    assert "internet" in msg and "Traceback" not in msg and "/" + "work" not in msg and str(tmp_path) not in msg
    assert e.value.__suppress_context__ or e.value.__cause__ is None  # no chained traceback for the CLI/worker
    assert downloads() == before  # nothing half-written (no .partial-*, no HF cache entries)


def test_a_hub_id_is_never_read_as_a_local_folder(no_network, tmp_path, monkeypatch):
    """'corpus/lectures' matches the hub-id pattern and exists relative to the project root:
    it must fail exactly like an id that names nothing."""
    from pathlib import Path

    from tools.transformer import Config, run

    root = Path(__file__).resolve().parents[2]
    monkeypatch.chdir(root)
    assert (root / "corpus" / "lectures").is_dir()
    msgs = []
    for model_id in ("corpus/lectures", "nobody/nothing"):
        with pytest.raises(MissingDataError) as e:
            run(Config(model_id=model_id, epochs=1, device="cpu"), out_dir=tmp_path / model_id.replace("/", "_"))
        msgs.append(str(e.value).replace(model_id, "ID"))
    assert msgs[0] == msgs[1]


def test_download_once_is_atomic(tmp_path):
    from tools.online import download_once, downloads_dir

    def half_then_fail(tmp):
        (tmp / "part.bin").write_bytes(b"x" * 1000)
        raise ConnectionError("connection reset")

    with pytest.raises(MissingDataError, match="ConnectionError"):
        download_once("unit-test", "Unit", "nowhere", half_then_fail, "use the offline data")
    assert not any(p.name.startswith(".partial-unit-test") for p in downloads_dir().iterdir())
    assert not (downloads_dir() / "unit-test").exists()
    calls = []
    ok = download_once("unit-test", "Unit", "nowhere", lambda tmp: calls.append((tmp / "f").write_text("y")), "")
    again = download_once("unit-test", "Unit", "nowhere", lambda tmp: calls.append(1), "")
    assert ok == again and (ok / "f").read_text() == "y" and len(calls) == 1  # downloaded once
    import shutil

    shutil.rmtree(ok)


def test_hf_environment_is_offline_in_tests():
    assert os.environ.get("HF_HUB_OFFLINE") == "1"
