"""tutor/vision/results.py: results kept per owner, chat uploads included."""

import json

import pytest

from tools import pretrained as P
from tutor.vision.results import VisionResults


def test_run_keeps_the_drawing_and_the_owner(photos, tmp_path):
    store = VisionResults(tmp_path)
    record = store.run("faces", photos["astronaut"], owner="alice")
    assert record["owner"] == "alice" and len(record["prediction"]["faces"]) == 1
    assert store.get(record["id"]) == record and store.image(record["id"]).read_bytes()[:3] == b"\xff\xd8\xff"
    assert str(tmp_path) not in json.dumps(record)  # ids and URLs only
    assert store.get("../" + record["id"]) is None and store.image("x" * 32) is None
    with pytest.raises(P.ImageError):
        store.run("imagenet", photos["not_an_image"], owner="alice")
    assert [p.name for p in tmp_path.iterdir()] == [record["id"]]  # the failure left no folder


def test_chat_upload_answer_is_kept_with_its_url(photos, tmp_path, monkeypatch):
    store = VisionResults(tmp_path)
    ans, record = store.answer(photos["chelsea"], "что на этой фотографии?", owner="tg:42", lang="ru")
    assert ans.model == "imagenet" and "кошка" in ans.text
    assert record["text"] == ans.text and record["image_url"] == f"/v1/vision/results/{record['id']}/image"
    assert store.image(record["id"]) is not None
    # offline, an online request is answered by the ImageNet fallback, and kept under the model that ran
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("https_proxy", "http://127.0.0.1:9")
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    ans, record = store.answer(photos["chelsea"], "сегментируй кота", owner="tg:42")
    assert ans.requested == "segmentation" and ans.unavailable and record["model"] == "imagenet"
    assert record["lectures"] == ["corpus/lectures/09_segmentation.md"]
